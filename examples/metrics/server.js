// An app that counts its requests with prom-client. Each worker keeps its own counter; nsup's
// /metrics (metrics.port in supervisor.config.ts) sums them across the cluster.
import http from 'node:http';
import { AggregatorRegistry, Counter } from 'prom-client';

// In a cluster worker this makes prom-client answer the primary's requests for metrics.
new AggregatorRegistry();

const requests = new Counter({ name: 'app_http_requests_total', help: 'Requests served.', labelNames: ['path'] });

http
  .createServer((req, res) => {
    requests.inc({ path: new URL(req.url ?? '/', 'http://x').pathname });
    res.end(`hello from worker ${process.env.NSUP_WORKER_ID} (pid ${process.pid})\n`);
  })
  .listen(Number(process.env.PORT ?? 3000));

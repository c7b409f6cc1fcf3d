// A plain node:http server, unmodified: nsup runs one copy per CPU on the same port.
import http from 'node:http';

const port = Number(process.env.PORT ?? 3000);

const server = http.createServer((req, res) => {
  const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
  setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ pid: process.pid, worker: process.env.NSUP_WORKER_ID ?? null, url: req.url }) + '\n');
  }, delay);
});

server.listen(port, () => console.log(`basic-http listening on :${port} (pid ${process.pid})`));

// An ordinary Express 5 app, unmodified: `nsup start examples/express/server.js -i 2`.
// Its SIGTERM listener is the one from Express's "Health checks and graceful shutdown" guide:
// nsup runs it on every reload and stop, once the worker's in-flight requests are answered.
import express from 'express';

const app = express();
const port = Number(process.env.PORT ?? 3000);

app.get('/', (_req, res) => {
  res.json({ framework: 'express', pid: process.pid, worker: process.env.NSUP_WORKER_ID ?? null });
});

const server = app.listen(port, () => console.log(`express listening on :${port} (pid ${process.pid})`));

process.on('SIGTERM', () => {
  console.log('SIGTERM received: closing the HTTP server');
  server.close(() => {
    // Close database pools, flush queues, … here; the process exits once nothing is left to do.
    console.log('HTTP server closed');
  });
});

// An ordinary Express 5 app, unmodified: `nsup start examples/express/server.js -i 2`.
import express from 'express';

const app = express();
const port = Number(process.env.PORT ?? 3000);

app.get('/', (_req, res) => {
  res.json({ framework: 'express', pid: process.pid, worker: process.env.NSUP_WORKER_ID ?? null });
});

app.listen(port, () => console.log(`express listening on :${port} (pid ${process.pid})`));

// Baseline: a hand-written node:cluster primary that forks N workers and re-forks on exit at once.
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

const n = Number(process.env.WORKERS ?? 2);
cluster.setupPrimary({ exec: fileURLToPath(new URL('./marker-server.js', import.meta.url)) });
for (let i = 0; i < n; i++) cluster.fork();
cluster.on('exit', () => {
  if (!stopping) cluster.fork();
});
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
  });
}

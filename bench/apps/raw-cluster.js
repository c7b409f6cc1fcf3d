// Baseline: a hand-written node:cluster primary. It forks N workers, re-forks on a crash at once,
// and on SIGHUP rolls them the textbook way: fork a new one, wait for 'listening', disconnect() the old.
// The app is $APP_SCRIPT (default: marker-server.js next to this file).
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

const n = Number(process.env.WORKERS ?? 2);
let stopping = false;
const retiring = new Set();
cluster.setupPrimary({ exec: process.env.APP_SCRIPT || fileURLToPath(new URL('./marker-server.js', import.meta.url)) });
for (let i = 0; i < n; i++) cluster.fork();
cluster.on('exit', (worker) => {
  if (!stopping && !retiring.delete(worker.id)) cluster.fork();
});
process.on('SIGHUP', async () => {
  for (const old of Object.values(cluster.workers ?? {})) {
    const fresh = cluster.fork();
    await new Promise((resolve) => fresh.once('listening', resolve));
    retiring.add(old.id);
    old.disconnect();
  }
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
  });
}

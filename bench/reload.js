// Scenario: rolling reloads under load. Counts failed requests (connection errors, timeouts,
// non-2xx) seen by autocannon over N reloads, and how long each reload takes (trigger → both
// workers replaced and the old ones gone). Raw cluster and nsup: SIGHUP to the primary;
// PM2: `pm2 reload bench`.
//
// The load is the harsh one of issue 14, both kinds at once: 100 keep-alive connections (each
// drain has many clients to tell `Connection: close` and many idle sockets to close without racing
// a request), plus `Connection: close` connections (new connections arriving at the old workers
// while they stop accepting), over 20 reloads per run. A drain that misses a response in flight,
// or closes a keep-alive socket a client is sending on, shows up here as failed requests.
import { alive, failedOf, load, markerPids, median, pm2, sleep, waitFor, withTarget } from './lib.js';

export const NAMES = ['raw cluster', 'pm2', 'nsup'];
// A reload not done by then is stuck (nsup's own bound is killTimeout, 5 s by default).
const STUCK_MS = 15_000;

export const TRIGGERS = {
  'raw cluster': ({ pid }) => process.kill(pid, 'SIGHUP'),
  nsup: ({ pid }) => process.kill(pid, 'SIGHUP'),
  pm2: ({ base }) => pm2(base, ['reload', 'bench'], { timeout: 60_000 }),
};

export async function reload({ rounds = 3, reloads = 20, keepAliveConnections = 100, closeConnections = 10, names = NAMES, log = () => {} } = {}) {
  // samples[name] = one entry per round: { keepAlive: { failed, requests }, close: { failed, requests }, durations: [ms per reload], reloadMs, stuck }
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withTarget(name, async (ctx) => {
        const { dir } = ctx;
        const loads = {
          keepAlive: load({ port: ctx.port, connections: keepAliveConnections, seconds: 300 }),
          close: load({ port: ctx.port, close: true, connections: closeConnections, seconds: 300 }),
        };
        const durations = [];
        let stuck = 0;
        try {
          await sleep(500);
          for (let r = 0; r < reloads; r++) {
            const before = new Set(markerPids(dir).filter(alive));
            const started = Date.now();
            const trigger = TRIGGERS[name](ctx);
            const replaced = () => {
              const now = markerPids(dir).filter(alive);
              return now.length === 2 && now.every((pid) => !before.has(pid)) && [...before].every((pid) => !alive(pid));
            };
            try {
              await waitFor(replaced, `${name}: reload ${r + 1}`, STUCK_MS);
            } catch {
              // The raw cluster's textbook roll: worker.disconnect() waits for every connection to
              // end, and 100 busy keep-alive clients never let them. Its old workers are SIGKILLed
              // (their open requests fail, as they would under a real deploy script's kill) and the
              // reload counts as stuck.
              stuck++;
              for (const pid of before) if (alive(pid)) process.kill(pid, 'SIGKILL');
              await waitFor(replaced, `${name}: reload ${r + 1} after SIGKILL`, 60_000);
            }
            await trigger;
            durations.push(Date.now() - started);
            await sleep(300);
          }
        } finally {
          for (const running of Object.values(loads)) running.stop();
        }
        const [keepAlive, close] = await Promise.all([loads.keepAlive.done, loads.close.done]);
        const entry = {
          keepAlive: { failed: failedOf(keepAlive), requests: keepAlive.requests.total, kinds: keepAlive.failureKinds },
          close: { failed: failedOf(close), requests: close.requests.total, kinds: close.failureKinds },
          durations,
          reloadMs: median(durations),
          stuck,
        };
        samples[name].push(entry);
        log(
          `  reload round ${round + 1} ${name.padEnd(11)} failed ${entry.keepAlive.failed} of ${entry.keepAlive.requests} keep-alive${entry.keepAlive.failed ? ` ${JSON.stringify(entry.keepAlive.kinds)}` : ''}, ` +
            `${entry.close.failed} of ${entry.close.requests} close${entry.close.failed ? ` ${JSON.stringify(entry.close.kinds)}` : ''}; reload median ${entry.reloadMs} ms (${Math.min(...durations)}–${Math.max(...durations)})` +
            (stuck ? `, ${stuck} stuck (old workers SIGKILLed after ${STUCK_MS / 1000} s)` : ''),
        );
      });
    }
  }
  return { samples, params: { rounds, reloads, keepAliveConnections, closeConnections } };
}

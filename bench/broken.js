// Scenario: a broken deploy. Each target runs a copy of the app from a temp folder under
// keep-alive load; the copy is overwritten with code that throws at startup (after appending one
// byte to $BENCH_DIR/broken-starts, so every start attempt of the broken code is counted), then a
// reload is triggered the usual way (raw cluster and nsup: SIGHUP; PM2: `pm2 reload bench`).
// Counted over the window from the trigger until the trigger has settled (PM2: `pm2 reload`
// returned; signals: the broken code ran at least once) plus 3 s: failed requests, broken start
// attempts, whether the old workers are still alive; after the load stops, whether the service
// still answers 200 (5 plain GETs, all must be 200).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, failedOf, httpStatus, load, markerPids, sleep, waitFor, withTarget } from './lib.js';
import { TRIGGERS } from './reload.js';

export const NAMES = ['raw cluster', 'pm2', 'nsup'];

const BROKEN = `// A broken deploy: throws at startup.
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.BENCH_DIR + '/broken-starts', 'x');
throw new Error('broken deploy: this version cannot start');
`;

const brokenStarts = (dir) => {
  try {
    return readFileSync(join(dir, 'broken-starts'), 'utf8').length;
  } catch {
    return 0;
  }
};

export async function broken({ rounds = 3, connections = 20, afterMs = 3000, names = NAMES, log = () => {} } = {}) {
  // samples[name] = one entry per round
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withTarget(
        name,
        async (ctx) => {
          const { dir } = ctx;
          const old = markerPids(dir).filter(alive);
          const running = load({ port: ctx.port, close: false, connections, seconds: 60 });
          let entry;
          try {
            await sleep(500);
            writeFileSync(ctx.script, BROKEN);
            const started = Date.now();
            const trigger = Promise.resolve(TRIGGERS[name](ctx));
            let triggerResult;
            await Promise.race([trigger.then((r) => (triggerResult = r)), sleep(40_000)]);
            await waitFor(() => brokenStarts(dir) > 0, `${name}: the broken code to run`, 20_000, 5).catch(() => {});
            const settledMs = Date.now() - started;
            await sleep(afterMs);
            entry = {
              settledMs,
              triggerExit: triggerResult?.exitCode ?? null,
              brokenStarts: brokenStarts(dir),
              oldWorkersAlive: old.filter(alive).length,
            };
          } finally {
            running.stop();
          }
          const res = await running.done;
          const statuses = [];
          for (let i = 0; i < 5; i++) {
            statuses.push(await httpStatus(ctx.port, 1000));
            await sleep(100);
          }
          Object.assign(entry, { failed: failedOf(res), requests: res.requests.total, statuses, serving: statuses.every((s) => s === 200) });
          samples[name].push(entry);
          log(
            `  broken deploy round ${round + 1} ${name.padEnd(11)} failed ${entry.failed} of ${entry.requests}, broken starts ${entry.brokenStarts}, ` +
              `old workers alive ${entry.oldWorkersAlive}/2, serving afterwards: ${entry.serving ? 'yes' : `no (${statuses.join(',')})`}`,
          );
        },
        { copyApp: true },
      );
    }
  }
  return { samples, params: { rounds, connections, afterMs } };
}

// Long-run check (not part of the default `npm run bench`): `npm run bench:soak` or
// BENCH_ONLY=soak. 1,000 rolling reloads of one nsup started from a config file (SIGHUP to the
// primary; the next one once both workers are replaced and the old ones gone), and the primary's
// RSS every 25 reloads. Nothing can force a GC in the primary from outside, so the comparison is
// RSS after the first 100 reloads (warm: every code path has run) against RSS after the last;
// target: growth < 5 MB. The same reloads of
// the raw cluster primary (its textbook SIGHUP roll) are the reference: what Node's cluster
// module alone does to a primary's RSS. Each reload is bounded (30 s: a stuck one ends that
// target's run, with what it measured so far), and so is each target's run (10 min; about 4-5 on
// a quiet machine at 0.2-0.25 s a reload), so the whole soak ends within about 21 minutes.
// For a shorter try or one target: BENCH_SOAK_RELOADS=300, BENCH_SOAK_TARGETS=nsup.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { alive, markerPids, median, rssKb, sleep, waitFor, withTarget } from './lib.js';

const RELOADS = Number(process.env.BENCH_SOAK_RELOADS ?? 1000);
const NAMES = process.env.BENCH_SOAK_TARGETS ? process.env.BENCH_SOAK_TARGETS.split(',').map((s) => s.trim()) : ['raw cluster', 'nsup'];

export async function soak({ reloads = RELOADS, names = NAMES, ...opts } = {}) {
  const out = {};
  for (const name of names) out[name] = await soakOne(name, { reloads, ...opts });
  return out;
}

async function soakOne(name, { reloads, warm = 100, every = 25, budgetMs = 10 * 60_000, log = () => {} }) {
  return withTarget(name, async ({ pid, dir }) => {
    const sampleRss = async () => {
      const readings = [];
      for (let i = 0; i < 5; i++) {
        readings.push(rssKb(pid));
        await sleep(100);
      }
      return median(readings);
    };
    const started = Date.now();
    const trend = [{ reloads: 0, rssKb: await sampleRss() }];
    log(`  soak ${name}: primary pid ${pid}, RSS at start ${(trend[0].rssKb / 1024).toFixed(1)} MB`);
    const durations = [];
    let done = 0;
    let stuck = null;
    for (let r = 1; r <= reloads; r++) {
      if (Date.now() - started > budgetMs) {
        log(`  soak ${name}: time budget (${budgetMs / 60_000} min) used up after ${done} reloads`);
        break;
      }
      const before = markerPids(dir).filter(alive);
      const t0 = Date.now();
      process.kill(pid, 'SIGHUP');
      try {
        await waitFor(
          () => {
            const now = markerPids(dir).filter(alive);
            return now.length === 2 && now.every((p) => !before.includes(p)) && before.every((p) => !alive(p));
          },
          `soak ${name}: reload ${r}`,
          30_000,
          10,
        );
      } catch (error) {
        // The run so far is kept (and misses the target): one stuck reload must not lose the other target's data.
        stuck = `${error.message}; workers alive: ${markerPids(dir).filter(alive).join(', ') || 'none'}, the old ones were ${before.join(', ')}`;
        log(`  soak ${name}: ${stuck}`);
        break;
      }
      durations.push(Date.now() - t0);
      // Keep the marker folder small: the old workers are gone.
      for (const old of before) rmSync(join(dir, String(old)), { force: true });
      done = r;
      if (r === warm || r % every === 0 || r === reloads) {
        await sleep(300);
        trend.push({ reloads: r, rssKb: await sampleRss() });
        if (r === warm || r % 100 === 0 || r === reloads) log(`  soak ${name}: ${r} reloads, primary RSS ${(trend.at(-1).rssKb / 1024).toFixed(1)} MB, last reload ${durations.at(-1)} ms`);
      }
    }
    if (done > 0 && trend.at(-1).reloads !== done) trend.push({ reloads: done, rssKb: await sampleRss() });
    const atWarm = trend.find((t) => t.reloads === warm)?.rssKb ?? null;
    const atEnd = trend.at(-1).rssKb;
    const growthKb = atWarm === null ? null : atEnd - atWarm;
    return {
      reloads: done,
      stuck,
      warm,
      rssStartKb: trend[0].rssKb,
      rssAfterWarmKb: atWarm,
      rssEndKb: atEnd,
      growthKb,
      targetMet: growthKb !== null && done === reloads && growthKb < 5 * 1024,
      reloadMs: { median: median(durations), min: Math.min(...durations), max: Math.max(...durations) },
      wallMs: Date.now() - started,
      trend,
      durations,
    };
  });
}

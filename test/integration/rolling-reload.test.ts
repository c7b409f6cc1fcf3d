// Issue 3: rolling reloads keep full capacity, drop no request, and roll back a broken deploy.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, getJson } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

/** A project with reloadable.js and a config for it; `extra` is spliced into the app config. */
async function project(extra = '', instances = 2): Promise<{ project: TmpProject; port: number; config: string; script: string }> {
  const port = await freePort();
  const p = tmpProject();
  const script = p.fixture('reloadable.js');
  const config = p.write(
    'supervisor.config.mjs',
    `export default { apps: [{ name: 'web', script: './reloadable.js', instances: ${instances}, env: { PORT: '${port}' }, killTimeout: '8s' ${extra} }] };`,
  );
  return { project: p, port, config, script };
}

/** SIGHUP and wait for the reload number `n` (1-based) to end; returns its end event. */
async function reload(nsup: Nsup, n: number): Promise<LogLine> {
  nsup.proc.kill('SIGHUP');
  const ends = await nsup.waitForCount(isReloadEnd, n, `reload ${n} to end`, 30_000);
  return ends[n - 1]!;
}

describe('rolling reload', () => {
  for (const close of [false, true]) {
    it(`drops no request over 5 reloads under ${close ? 'Connection: close' : 'keep-alive'} load, and replaces every pid`, async () => {
      const { project: p, port, config } = await project();
      try {
        const nsup = startNsup(['start', '-c', config]);
        await nsup.waitForCount(listening, 2, 'two listening workers');
        const first = nsup.listeningPids();
        const load = startLoad(port, { connections: 20, close });
        // Let the load run for a while before the first reload and after the last one (time, not an event).
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (let n = 1; n <= 5; n++) expect((await reload(nsup, n)).event).toBe('reload.done');
        await new Promise((resolve) => setTimeout(resolve, 300));
        const result = await load.stop();
        expect(result.failed, JSON.stringify(result)).toBe(0);
        expect(result.ok).toBeGreaterThan(500);
        const last = nsup.listeningPids();
        expect(last).toHaveLength(2);
        for (const pid of first) expect(last).not.toContain(pid);
        expect(new Set(nsup.workerPids()).size).toBe(12);
        expect((await getJson(port)).gen).toBe('6');
        expect(await stopNsup(nsup)).toBe(0);
        expect(await waitGone(nsup.workerPids())).toEqual([]);
      } finally {
        p.dispose();
      }
    });
  }

  it('rolls back a deploy that throws at startup without dropping a request, then a fixed deploy works', async () => {
    const { project: p, port, config, script } = await project();
    try {
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      const old = nsup.listeningPids().sort();
      const good = readFileSync(script, 'utf8');
      writeFileSync(script, `throw new Error('missing DATABASE_URL');\n${good}`);
      const load = startLoad(port, { connections: 10 });
      const end = await reload(nsup, 1);
      expect(end.event).toBe('reload.rolled-back');
      expect(end.reason).toMatch(/worker 0 of the new generation exited before it was up: exited with code 1: Error: missing DATABASE_URL/);
      expect((end.lastFailure as { stderr: string[] }).stderr.join('\n')).toContain('missing DATABASE_URL');
      expect(end.msg).toMatch(/rolled back .* generation 1 keeps serving/);
      // The app is not put into a crash loop: the failed worker is not restarted (a negative
      // check: no restart happens for 500 ms).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(nsup.events.filter((e) => e.event === 'worker.restart')).toEqual([]);
      expect(nsup.listeningPids().sort()).toEqual(old);
      const seen = new Set<number>();
      for (let i = 0; i < 20; i++) seen.add((await getJson(port)).pid as number);
      expect([...seen].sort()).toEqual(old);
      writeFileSync(script, good.replace("'v1'", "'v2'"));
      expect((await reload(nsup, 2)).event).toBe('reload.done');
      const result = await load.stop();
      expect(result.failed, JSON.stringify(result)).toBe(0);
      expect((await getJson(port)).build).toBe('v2');
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      p.dispose();
    }
  });

  it('rolls back when a new worker never listens within listenTimeout', async () => {
    const { project: p, port, config, script } = await project(`, listenTimeout: '700ms'`, 1);
    try {
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitFor(listening, 'listening worker');
      writeFileSync(script, `setInterval(() => {}, 1000);\n`);
      const end = await reload(nsup, 1);
      expect(end.event).toBe('reload.rolled-back');
      expect(end.reason).toMatch(/^worker 0 of the new generation not up within listenTimeout 700ms: online, has not listened after 7\d\dms: a worker without a server needs readyWhen 'online'$/);
      expect((await get(port)).status).toBe(200);
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      p.dispose();
    }
  });

  it('lets a slow request in flight on an old worker complete during the reload', async () => {
    const { project: p, port, config } = await project();
    try {
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      const slow = get(port, '/?delay=2000&tag=a');
      await nsup.waitForOutput((l) => l.endsWith('slow request a started'), 'slow request started');
      const end = await reload(nsup, 1);
      expect(end.event).toBe('reload.done');
      const res = await slow;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).gen).toBe('1');
      // The reload waited for the drain: it cannot be done before the slow answer left.
      expect(end.durationMs as number).toBeGreaterThanOrEqual(1500);
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      p.dispose();
    }
  });

  it('with waitReady, a new worker counts as up only once it calls ready()', async () => {
    const { project: p, config, script } = await project(`, waitReady: true`, 1);
    try {
      writeFileSync(script, readFileSync(script, 'utf8') + `\nsetTimeout(() => process.send('ready'), 1000);\n`);
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitFor((e) => e.event === 'worker.state' && e.to === 'ready', 'first worker ready');
      nsup.proc.kill('SIGHUP');
      const fork = await nsup.waitFor((e) => e.event === 'reload.step' && e.step === 'fork', 'new worker forked');
      const newListening = await nsup.waitFor((e) => listening(e) && e.pid === fork.pid, 'new worker listening');
      const retire = await nsup.waitFor((e) => e.event === 'reload.step' && e.step === 'retire', 'old worker retired');
      const ready = nsup.events.find((e) => e.event === 'worker.state' && e.to === 'ready' && e.pid === fork.pid)!;
      expect(ready).toBeDefined();
      expect(Date.parse(retire.time as string) - Date.parse(newListening.time as string)).toBeGreaterThanOrEqual(900);
      expect(Date.parse(retire.time as string)).toBeGreaterThanOrEqual(Date.parse(ready.time as string));
      expect((await nsup.waitFor(isReloadEnd, 'reload end')).event).toBe('reload.done');
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      p.dispose();
    }
  });

  it('keeps the running config when the edited config is invalid, and coalesces a burst of SIGHUPs', async () => {
    const { project: p, port, config } = await project();
    try {
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      const good = readFileSync(config, 'utf8');
      writeFileSync(config, good.replace("instances: 2", "instances: 'lots'"));
      nsup.proc.kill('SIGHUP');
      const refused = await nsup.waitFor((e) => e.event === 'reload.config-invalid', 'reload refused');
      expect(refused.msg).toMatch(/^reload refused: Invalid config in .*supervisor\.config\.mjs at apps\[0\]\.instances: got "lots" \(string\); expected 'max', -1, or a positive integer\. \[NSUP_ERR_CONFIG_INVALID\]; keeping the running config/);
      expect((await get(port)).status).toBe(200);
      writeFileSync(config, good);
      for (let i = 0; i < 4; i++) nsup.proc.kill('SIGHUP');
      await nsup.waitFor((e) => e.event === 'reload.done', 'a reload');
      // A negative check: give a coalesced reload (or a wrong extra one) 1.5 s to show up.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const reloads = nsup.events.filter((e) => e.event === 'reload.start');
      expect(reloads.length).toBeGreaterThanOrEqual(1);
      expect(reloads.length).toBeLessThanOrEqual(2);
      // Never two at once: every start is followed by its end before the next start.
      const order = nsup.events.filter((e) => e.event === 'reload.start' || isReloadEnd(e)).map((e) => e.event);
      expect(order).toEqual(reloads.flatMap(() => ['reload.start', 'reload.done']));
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      p.dispose();
    }
  });
});

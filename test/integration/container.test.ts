// Issue 6: nsup as a container's PID 1 (a new PID namespace, as `docker run` without --init
// gives it): SIGTERM still drains in-flight requests and exits 0.
import { execFileSync, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../helpers/http.ts';
import { cleanupAll, startNsup, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-fp', '--mount-proc', 'true']).status === 0;
const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe.skipIf(!canUnshare)('as PID 1', () => {
  it('drains on SIGTERM and exits 0', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '--env', `PORT=${port}`], { wrap: ['unshare', '-fp', '--mount-proc'] });
    const start = await nsup.waitFor((e) => e.event === 'supervisor.start', 'start');
    expect(start.pid).toBe(1);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const slow = get(port, '/?delay=1000&tag=pid1');
    await nsup.waitForOutput((l) => l.endsWith('request pid1 started'), 'slow request started');
    // unshare's child is nsup (PID 1 inside): signal it by its pid outside.
    const hostPid = Number(execFileSync('pgrep', ['-P', String(nsup.proc.pid)], { encoding: 'utf8' }).trim());
    process.kill(hostPid, 'SIGTERM');
    expect((await slow).status).toBe(200);
    expect((await nsup.exited).code).toBe(0);
    expect(nsup.events.some((e) => e.event === 'supervisor.stopped')).toBe(true);
  });
});

// Issue 17: nsup where /proc does not exist (macOS has none). A mount namespace with an empty
// tmpfs over /proc hides it from the real binary (and from procps `ps`, so usage figures are
// unknown there): the cluster serves, /metrics answers, a stale unix socket is still found (the
// connect probe), and SIGTERM stops it cleanly. The per-reader fallbacks: test/unit/portability.test.ts.
import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import http from 'node:http';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

// nsup runs as "$0 $@" after the mount: exec keeps its pid the one the helpers signal.
const WITHOUT_PROC = ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs none /proc && exec "$0" "$@"'];
const canHide = process.getuid?.() === 0 && spawnSync(WITHOUT_PROC[0]!, [...WITHOUT_PROC.slice(1), 'sh', '-c', 'test ! -e /proc/self']).status === 0;
const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe.skipIf(!canHide)('without /proc', () => {
  it('serves from every worker, answers /metrics, and stops with exit 0', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '--env', `PORT=${port}`, '--metrics-port', '0'], { wrap: WITHOUT_PROC });
    const bound = await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server');
    await nsup.waitForCount(listening, 2, 'two listening workers');
    expect((await get(port)).status).toBe(200);
    const metrics = await get(bound.port as number, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('nsup_workers');
    expect(await stopNsup(nsup)).toBe(0);
    expect(nsup.events.some((e) => e.event === 'supervisor.stopped')).toBe(true);
    expect(nsup.events.filter((e) => e.event === 'worker.exit' && e.expected !== true)).toEqual([]);
  });

  it('removes a stale unix socket file before the bind (found by a connect probe), and the app serves', async () => {
    const project = tmpProject();
    try {
      const sock = project.path('app.sock');
      // A socket file nobody listens on: its process was SIGKILLed after listening.
      await execa(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`], { reject: false, timeout: 10_000 });
      expect(lstatSync(sock).isSocket()).toBe(true);
      const script = project.fixture('unix-socket.js');
      const config = project.write('supervisor.config.mjs', `export default { apps: [{ name: 'sock', script: ${JSON.stringify(script)}, instances: 2, env: { SOCKET_PATH: ${JSON.stringify(sock)}, UNLINK: 'none' } }] };`);
      const nsup = startNsup(['start', '-c', config], { cwd: project.dir, wrap: WITHOUT_PROC });
      const removed = await nsup.waitFor((e) => e.event === 'socket.stale-removed', 'stale socket removed');
      expect(removed.path).toBe(sock);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      expect(await status(sock)).toBe(200);
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      project.dispose();
    }
  });
});

function status(socketPath: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
  });
}

// Issue 6: under systemd Type=notify, nsup says READY=1 only once every worker is up,
// RELOADING=1 / READY=1 around a rolling reload, and STOPPING=1 when a stop begins. The test
// receives on a real AF_UNIX datagram socket (python3: Node cannot bind one).
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const has = (command: string) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe.skipIf(!has('python3') || !has('systemd-notify'))('systemd notify', () => {
  it('READY=1 after every worker is up, RELOADING=1/READY=1 around a reload, STOPPING=1 on stop', async () => {
    const p = tmpProject();
    const socket = p.path('notify.sock');
    const receiver = spawn('python3', [
      p.write('receiver.py', `import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('bound', flush=True)\nwhile True:\n    print(s.recv(65536).decode().replace('\\n', '|'), flush=True)\n`),
      socket,
    ]);
    try {
      const messages: Array<{ text: string; listeningAtArrival: number }> = [];
      const lines = createInterface({ input: receiver.stdout! });
      await new Promise<void>((resolve) => lines.once('line', () => resolve()));
      const port = await freePort();
      const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '--env', `PORT=${port}`], { env: { NOTIFY_SOCKET: socket } });
      lines.on('line', (text) => messages.push({ text, listeningAtArrival: nsup.listeningPids().length }));
      // Resolves on the receiver's line (already seen or future) that matches; bounded.
      const waitMessage = (re: RegExp, what: string) =>
        new Promise<{ text: string; listeningAtArrival: number }>((resolve, reject) => {
          const check = () => {
            const found = messages.find((m) => re.test(m.text));
            if (!found) return;
            finish();
            resolve(found);
          };
          const timer = setTimeout(() => {
            finish();
            reject(new Error(`no ${what}; got ${JSON.stringify(messages.map((m) => m.text))}`));
          }, 10_000);
          const finish = () => {
            clearTimeout(timer);
            lines.off('line', check);
          };
          // Added after the listener that records messages, so it runs after the push.
          lines.on('line', check);
          check();
        });
      const ready = await waitMessage(/READY=1/, 'READY=1');
      await nsup.waitForCount(listening, 2, 'two listening workers');
      expect(ready.listeningAtArrival).toBe(2);
      expect(ready.text).toContain(`MAINPID=${nsup.proc.pid}`);
      expect(ready.text).toMatch(/STATUS=every worker up: http-ok running/);
      nsup.proc.kill('SIGHUP');
      await nsup.waitFor((e) => e.event === 'reload.done', 'reload');
      await waitMessage(/RELOADING=1\|MONOTONIC_USEC=\d+/, 'RELOADING=1');
      const stopping = stopNsup(nsup);
      await waitMessage(/STOPPING=1/, 'STOPPING=1');
      expect(await stopping).toBe(0);
      const order = messages.map((m) => m.text.match(/(READY|RELOADING|STOPPING)=1/)?.[1]).filter(Boolean);
      expect(order).toEqual(['READY', 'RELOADING', 'READY', 'STOPPING']);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      receiver.kill('SIGKILL');
      p.dispose();
    }
  });
});

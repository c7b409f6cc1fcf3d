// Issue 14: the drain loses no request under a harsher load than rolling-reload.test.ts puts on
// it: 100 keep-alive connections and a `Connection: close` load at the same time, over 20 rolling
// reloads; and a pipelined request still queued behind the one in flight when the drain starts.
// (Requests are tracked only from the drain's start: these tests see a response the drain missed,
// or a keep-alive client not told to close.)
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const RELOADS = 20;
const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

async function reload(nsup: Nsup, n: number): Promise<LogLine> {
  nsup.proc.kill('SIGHUP');
  const ends = await nsup.waitForCount(isReloadEnd, n, `reload ${n} to end`, 30_000);
  return ends[n - 1]!;
}

describe('rolling reload under heavy mixed load', () => {
  it(`drops no request over ${RELOADS} reloads with 100 keep-alive connections plus Connection: close load`, async () => {
    const port = await freePort();
    const p = tmpProject();
    p.fixture('reloadable.js');
    const config = p.write('supervisor.config.mjs', `export default { apps: [{ name: 'web', script: './reloadable.js', instances: 2, env: { PORT: '${port}' } }] };`);
    try {
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      const keepAlive = startLoad(port, { connections: 100 });
      const close = startLoad(port, { connections: 10, close: true });
      // Both loads run a moment before the first reload and after the last one (time, not an event).
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let n = 1; n <= RELOADS; n++) expect((await reload(nsup, n)).event).toBe('reload.done');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [kept, closed] = await Promise.all([keepAlive.stop(), close.stop()]);
      expect(kept.failed, `keep-alive: ${JSON.stringify(kept)}`).toBe(0);
      expect(closed.failed, `Connection: close: ${JSON.stringify(closed)}`).toBe(0);
      // Both loads were served all along, not starved by the other.
      expect(kept.ok).toBeGreaterThan(1000);
      expect(closed.ok).toBeGreaterThan(200);
      expect(new Set(nsup.workerPids()).size).toBe(2 * (RELOADS + 1));
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      p.dispose();
    }
  }, 60_000);

  it('answers a pipelined request that was still queued behind the response in flight when the drain started', async () => {
    const port = await freePort();
    const p = tmpProject();
    // /stream sends its headers at once and ends after `ms`; /slow answers after `ms`. Node runs
    // the handler of a pipelined request at once, but its response waits for the socket.
    p.write(
      'app.js',
      `import http from 'node:http';
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const ms = Number(url.searchParams.get('ms'));
  console.log('started ' + url.pathname);
  if (url.pathname === '/stream') { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('a'); setTimeout(() => res.end('b'), ms); }
  else setTimeout(() => res.end('done'), ms);
}).listen(Number(process.env.PORT));
`,
    );
    const config = p.write('supervisor.config.mjs', `export default { apps: [{ name: 'web', script: './app.js', instances: 1, env: { PORT: '${port}' }, killTimeout: '10s' }] };`);
    const socket = new net.Socket();
    try {
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 1, 'a listening worker');
      let received = '';
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', () => {});
      socket.connect(port, '127.0.0.1');
      // Both requests in one write: the second waits in Node's queue while the first streams. The
      // drain starts while the first is in flight; once it ends, the idle grace alone (500 ms)
      // would not cover the queued one, which the drain must track too.
      socket.write(`GET /stream?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\nGET /slow?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n`);
      await nsup.waitForOutput((line) => line.includes('started /slow'), 'both requests to start');
      expect((await reload(nsup, 1)).event).toBe('reload.done');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      const responses = received.split(/(?=HTTP\/1\.1 )/);
      expect(responses).toHaveLength(2);
      expect(responses[0]).toMatch(/^HTTP\/1\.1 200/);
      expect(responses[1]).toMatch(/^HTTP\/1\.1 200[^]*\r\nConnection: close\r\n[^]*done$/i);
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      socket.destroy();
      p.dispose();
    }
  });
});

// Issue 5: messages between workers through the real `nsup` binary. Each fixture worker listens on
// its own port, so the test drives exactly one worker over HTTP and reads what its call returned.
import { execa } from 'execa';
import { dirname } from 'node:path';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, getJson } from '../helpers/http.ts';
import { BIN, ROOT, cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

interface AppSpec {
  name: string;
  instances: number;
  extra?: string;
}
interface Cluster {
  nsup: Nsup;
  /** GET a path on worker `id` of `app` and parse the JSON answer. */
  call<T = Record<string, any>>(app: string, id: number, path: string): Promise<T>;
  /** pid of the current worker `id` of `app`, from the supervisor's log. */
  pid(app: string, id: number): number;
}

/** Start nsup on the ipc-worker fixture for each app; runs `fn`, then stops and checks no process is left. */
async function withCluster(apps: AppSpec[], fn: (c: Cluster) => Promise<void>): Promise<void> {
  const project = tmpProject();
  const ports = new Map<string, number[]>();
  for (const app of apps) ports.set(app.name, await Promise.all(Array.from({ length: app.instances }, () => freePort())));
  const script = JSON.stringify(`${FIXTURES}ipc-worker.js`);
  const entries = apps.map((a) => `{ name: '${a.name}', script: ${script}, instances: ${a.instances}, env: { PORTS: '${ports.get(a.name)!.join(',')}' }${a.extra ?? ''} }`);
  const config = project.write('supervisor.config.mjs', `export default { apps: [${entries.join(', ')}] };`);
  try {
    const nsup = startNsup(['start', '-c', config]);
    const total = apps.reduce((n, a) => n + a.instances, 0);
    await nsup.waitForCount(listening, total, `${total} listening workers`);
    const pid = (app: string, id: number) =>
      nsup.events.findLast((e) => e.event === 'worker.state' && e.to === 'listening' && e.app === app && e.worker === id)!.pid as number;
    await fn({ nsup, pid, call: (app, id, path) => getJson(ports.get(app)![id]!, path) as never });
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
    // onShutdown hooks still run before a drained worker exits.
    const hooks = nsup.stdout.filter((l) => l.includes('shutdown hook ran on worker'));
    expect(hooks).toHaveLength(total);
  } finally {
    project.dispose();
  }
}

describe('messages between workers (issue 5)', () => {
  it('nsup send delivers from the CLI to every worker, or to one', async () => {
    await withCluster([{ name: 'web', instances: 2 }], async ({ nsup, call }) => {
      const start = await nsup.waitFor((e) => e.event === 'supervisor.start', 'start');
      const env = { NSUP_HOME: dirname(start.socket as string), NO_COLOR: '1' };
      const cli = (args: string[]) => execa(process.execPath, [BIN, ...args], { env, reject: false, timeout: 15_000 });
      const all = await cli(['send', 'web', 'all', 'hello', '"n-all"']);
      expect(all.exitCode, all.stderr).toBe(0);
      expect(all.stdout).toMatch(/^web: 'hello' delivered to 2 workers \(pid \d+, \d+\)$/);
      const one = await cli(['send', 'web', '1', 'hello', '"n-one"']);
      expect(one.stdout).toMatch(/delivered to 1 worker /);
      const seen = async (id: number, nonce: string) => (await call('web', 1 - id, `/request?to=${id}&topic=seen&data=${encodeURIComponent(JSON.stringify(nonce))}`)).result;
      expect([await seen(0, 'n-all'), await seen(1, 'n-all')]).toEqual([1, 1]);
      expect([await seen(0, 'n-one'), await seen(1, 'n-one')]).toEqual([0, 1]);
      const missing = await cli(['send', 'web', '7', 'hello']);
      expect(missing.exitCode).toBe(1);
      expect(missing.stderr).toMatch(/app 'web' has no running worker 7 \(running: 0, 1\)/);
      const badJson = await cli(['send', 'web', 'all', 'hello', '{nope']);
      expect(badJson.exitCode).toBe(2);
      expect(badJson.stderr).toMatch(/the data is not valid JSON/);
    });
  });

  it('request/reply: each worker answers with its own pid, and learns who asked', async () => {
    await withCluster([{ name: 'web', instances: 2 }], async ({ call, pid }) => {
      const a = await call('web', 0, '/request?to=1&topic=pid');
      expect(a).toMatchObject({ ok: true, result: { pid: pid('web', 1), id: 1, app: 'web', from: 0, sender: { app: 'web', id: 0 } } });
      const b = await call('web', 1, '/request?to=0&topic=pid');
      expect(b.result.pid).toBe(pid('web', 0));
      expect(pid('web', 0)).not.toBe(pid('web', 1));
    });
  });

  it('broadcast with 3 workers reaches each other worker exactly once, and not the sender', async () => {
    await withCluster([{ name: 'web', instances: 3 }], async ({ call }) => {
      for (const sender of [0, 1, 2]) {
        const { counts } = await call('web', sender, `/broadcast?nonce=n${sender}&n=3`);
        expect(counts).toEqual({ 0: 1, 1: 1, 2: 1, [sender]: 0 });
      }
    });
  });

  it('request errors: missing worker fails fast naming it, handler errors cross over, timeouts fire', async () => {
    await withCluster([{ name: 'web', instances: 2 }], async ({ call, nsup }) => {
      const missing = await call('web', 0, '/request?to=5&topic=pid');
      expect(missing.error).toMatchObject({ code: 'NSUP_ERR_IPC_NO_TARGET', message: "request('pid'): worker 5 of app 'web' is not running (running workers: 0, 1)." });
      expect(missing.ms).toBeLessThan(1000);
      const noApp = await call('web', 0, '/request?app=db&to=0&topic=pid');
      expect(noApp.error.message).toBe("request('pid'): there is no app named 'db' (apps: web).");
      const boom = await call('web', 0, '/request?to=1&topic=boom');
      expect(boom.error).toMatchObject({ code: 'NSUP_ERR_IPC_HANDLER_FAILED', message: "the handler for 'boom' on worker 1 of app 'web' failed: boom from worker 1", cause: 'boom from worker 1' });
      const none = await call('web', 0, '/request?to=1&topic=nobody');
      expect(none.error.code).toBe('NSUP_ERR_IPC_NO_HANDLER');
      const slow = await call('web', 0, '/request?to=1&topic=hang&timeout=300');
      expect(slow.error).toMatchObject({ code: 'NSUP_ERR_IPC_TIMEOUT', message: "request('hang') to worker 1 of app 'web' got no reply within 300 ms. Raise { timeout } or make the handler answer sooner." });
      expect(slow.ms).toBeGreaterThanOrEqual(290);
      expect(slow.ms).toBeLessThan(3000);
      // Failures reach the requester, not the primary's log.
      expect(nsup.events.filter((e) => String(e.event).startsWith('ipc.'))).toEqual([]);
    });
  });

  it('a worker SIGKILLed mid-request fails the pending request at once, not at its timeout', async () => {
    await withCluster([{ name: 'web', instances: 2 }], async ({ call, nsup, pid }) => {
      const pending = call('web', 0, '/request?to=1&topic=hang&timeout=20000');
      await nsup.waitForOutput((l) => l.endsWith('hang started on worker 1'), 'the handler to start');
      process.kill(pid('web', 1), 'SIGKILL');
      const result = await pending;
      expect(result.error).toMatchObject({ code: 'NSUP_ERR_IPC_TARGET_EXITED', message: "request('hang') to worker 1 of app 'web': it exited before it answered." });
      expect(result.ms).toBeLessThan(3000);
      // The slot comes back and answers again.
      await nsup.waitForCount(listening, 3, 'worker 1 restarted');
      expect((await call('web', 0, '/request?to=1&topic=echo&data=7')).result).toBe(7);
    });
  });

  it("the app's own process.send messages pass untouched; a malformed nsup message is dropped with one warning", async () => {
    await withCluster([{ name: 'web', instances: 2 }], async ({ call, nsup }) => {
      expect(await call('web', 0, '/foreign')).toEqual({ sent: 3 });
      const warning = await nsup.waitFor((e) => e.event === 'ipc.malformed', 'the malformed message warning');
      expect(warning).toMatchObject({ level: 'warn', app: 'web', worker: 0, reason: 'unknown type "bogus"' });
      // Messaging still works, and the app's own listener sees nsup's messages as they were sent.
      expect((await call('web', 1, '/request?to=0&topic=echo&data="after"')).result).toBe('after');
      const { messages } = await call('web', 0, '/user-messages');
      expect(messages).toContainEqual({ nsup: 1, type: 'invoke', seq: 1, via: expect.any(Number), topic: 'echo', data: 'after', from: 1, fromApp: 'web' });
      expect(nsup.events.filter((e) => String(e.event).startsWith('ipc.'))).toHaveLength(1);
    });
  });

  it('refuses unsendable or oversized data at the sender', async () => {
    await withCluster([{ name: 'web', instances: 2 }], async ({ call }) => {
      const fn = await call('web', 0, '/bad?kind=function&to=1');
      expect(fn.thrown).toEqual({ name: 'TypeError', code: 'NSUP_ERR_IPC_UNSENDABLE', message: "send('echo'): property 'cb' is a function, which cannot be sent between processes. Send plain data." });
      expect(fn.rejected).toMatchObject({ name: 'TypeError', code: 'NSUP_ERR_IPC_UNSENDABLE', message: expect.stringMatching(/^request\('echo'\): property 'cb' is a function/) });
      expect((await call('web', 0, '/bad?kind=bigint&to=1')).thrown.message).toMatch(/property 'n' is a BigInt, which JSON cannot encode.*serialization: 'advanced'/);
      expect((await call('web', 0, '/bad?kind=circular&to=1')).thrown.message).toMatch(/circular reference \(property 'self' closes the circle\)/);
      const big = await call('web', 0, '/bad?kind=big&to=1');
      expect(big.thrown).toMatchObject({ name: 'RangeError', code: 'NSUP_ERR_IPC_TOO_LARGE', message: expect.stringMatching(/^send\('echo'\): the data is 2 MiB of JSON, over the 1 MiB limit/) });
      expect(big.rejected.code).toBe('NSUP_ERR_IPC_TOO_LARGE');
    });
  });

  it("serialization: 'advanced' carries a Map, a Set, a Buffer and a BigInt both ways", async () => {
    await withCluster([{ name: 'bin', instances: 2, extra: ", serialization: 'advanced'" }], async ({ call }) => {
      const expected = { map: [['a', 1]], set: ['x'], buf: 'hi', big: '18446744073709551616' };
      expect(await call('bin', 0, '/types?to=1')).toEqual({ there: expected, back: expected });
    });
  });

  it('reaches another app by { app, id } and every worker of it by { app }', async () => {
    await withCluster([{ name: 'alpha', instances: 2 }, { name: 'beta', instances: 2 }], async ({ call, pid }) => {
      const reply = await call('alpha', 1, '/request?app=beta&to=0&topic=pid');
      expect(reply.result).toEqual({ pid: pid('beta', 0), id: 0, app: 'beta', from: 1, sender: { app: 'alpha', id: 1 } });
      expect(await call('alpha', 0, '/send-app?app=beta&to=1&nonce=x')).toEqual({ seen: 1 });
      expect((await call('beta', 1, '/request?to=0&topic=seen&data="x"')).result).toBe(1);
      expect((await call('alpha', 0, '/request?to=0&topic=seen&data="x"')).result).toBe(0);
    });
  });
});

describe('examples/ipc-chat', () => {
  it('a message posted to one worker is in the room of every worker; worker 0 counts it', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', '-c', `${ROOT}examples/ipc-chat/supervisor.config.ts`], { env: { PORT: String(port) } });
    await nsup.waitForCount(listening, 2, 'two listening workers');
    expect(await postJson(port, '/say?user=ann&text=hello')).toEqual({ ok: true, total: 1 });
    const servedBy = new Set<number>();
    for (let i = 0; i < 40 && servedBy.size < 2; i++) {
      const { servedBy: id, messages } = await getJson<{ servedBy: number; messages: Array<{ text: string }> }>(port, '/messages');
      // Delivery to the other worker is asynchronous: only count a worker once the message is there.
      if (messages.length === 1) servedBy.add(id);
      if (messages.length === 1) expect(messages[0]!.text).toBe('hello');
    }
    expect([...servedBy].sort()).toEqual([0, 1]);
    expect((await getJson(port, '/stats')).total).toBe(1);
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });
});

describe('nsup/worker outside nsup (issue 5)', () => {
  it('imports under plain node: send/broadcast do nothing, request rejects saying why', async () => {
    const result = await execa(process.execPath, [`${FIXTURES}ipc-outside.js`], { cwd: ROOT, timeout: 10_000 });
    expect(JSON.parse(result.stdout)).toEqual({
      workerId: -1,
      appName: '',
      send: 'undefined',
      broadcast: 'undefined',
      unsubscribe: 'function',
      unsubscribed: 'undefined',
      request: {
        name: 'Error',
        code: 'NSUP_ERR_IPC_NOT_UNDER_NSUP',
        message: "request('topic'): this app is not running under nsup, so there are no other workers to ask. Start it with `nsup start`.",
      },
    });
  });
});

function postJson(port: number, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

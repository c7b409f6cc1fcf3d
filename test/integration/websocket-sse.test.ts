// Issue 11: long-lived connections under a reload and a stop. Unmodified `ws` (and socket.io) servers give every
// client a clean close (1012 on a reload, 1001 on a stop, never 1006) and the clients reconnect to
// the new generation; SSE streams end cleanly and reconnect; neither holds a reload for the
// killTimeout. An app's onDrain hook closes its own WebSockets with its own code first.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { cliHome } from '../helpers/daemon.ts';
import { freePort, get } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { changed, until } from '../helpers/until.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const CLIENTS = 20;
const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

/** What one reconnecting client saw: the pid that greeted each connection, and how each ended. */
interface Client {
  pids: number[];
  /** WebSocket close codes, or 'end' for a cleanly ended SSE response; one per connection that opened. */
  ends: Array<number | string>;
  /** Connection attempts that failed, and responses that broke off (error, abort). */
  failures: string[];
  /** Stop reconnecting (before the supervisor stops). */
  stop(): void;
}

/** A WebSocket client that reconnects at once whenever its connection closes. */
function wsClient(port: number, open: Set<WebSocket>): Client {
  let stopped = false;
  const client: Client = { pids: [], ends: [], failures: [], stop: () => (stopped = true) };
  const connect = () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    open.add(ws);
    let opened = false;
    ws.on('open', () => (opened = true));
    ws.once('message', (data) => {
      client.pids.push((JSON.parse(String(data)) as { pid: number }).pid);
      changed();
    });
    ws.on('error', (error) => client.failures.push(error.message));
    ws.on('close', (code) => {
      open.delete(ws);
      if (opened) client.ends.push(code);
      else client.failures.push(`closed before it opened (${code})`);
      changed();
      if (!stopped) connect();
    });
  };
  connect();
  return client;
}

/** An SSE client (plain http, fresh connections) that reconnects at once when its stream ends. */
function sseClient(port: number, open: Set<http.ClientRequest>): Client {
  let stopped = false;
  const client: Client = { pids: [], ends: [], failures: [], stop: () => (stopped = true) };
  const connect = () => {
    const request = http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
      let head = '';
      let greeted = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (greeted) return;
        head += chunk;
        const first = /^data: (\{.*\})\n\n/.exec(head);
        if (!first) return;
        greeted = true;
        client.pids.push((JSON.parse(first[1]!) as { pid: number }).pid);
        changed();
      });
      res.on('end', () => {
        client.ends.push('end');
        changed();
        if (!stopped) connect();
      });
      res.on('error', (error) => {
        client.failures.push(`response: ${error.message}`);
        changed();
      });
    });
    open.add(request);
    request.on('close', () => open.delete(request));
    request.on('error', (error) => {
      client.failures.push(`request: ${error.message}`);
      changed();
    });
  };
  connect();
  return client;
}

async function start(script: string, env: string[] = []): Promise<{ nsup: Nsup; port: number; first: number[] }> {
  const port = await freePort();
  const nsup = startNsup(['start', `${FIXTURES}${script}`, '-i', '2', '--env', `PORT=${port}`, ...env.flatMap((e) => ['--env', e])]);
  await nsup.waitForCount(listening, 2, 'two listening workers');
  return { nsup, port, first: nsup.listeningPids().sort() };
}

/**
 * The reload was not held up by the long-lived connections: each old worker went from `stopping`
 * to gone in under 2 s (open WebSockets or streams would hold it for the whole 5 s killTimeout).
 * The old workers' drain is measured rather than the whole reload, whose new-worker start-up
 * depends on how loaded the machine is (0.3-0.7 s here, the whole reload).
 */
function expectDrainedFast(nsup: Nsup, oldPids: number[]): void {
  const at = (line: LogLine | undefined) => Date.parse(String(line?.time));
  for (const pid of oldPids) {
    const stopping = nsup.events.find((e) => e.event === 'worker.state' && e.pid === pid && e.to === 'stopping');
    const exit = nsup.events.find((e) => e.event === 'worker.exit' && e.pid === pid);
    expect(at(exit) - at(stopping), `worker ${pid} drained`).toBeLessThan(2000);
  }
}

/** SIGHUP the foreground primary; resolves with reload.done (fails on a rollback). */
async function reload(nsup: Nsup): Promise<LogLine> {
  nsup.proc.kill('SIGHUP');
  const end = await nsup.waitFor(isReloadEnd, 'the reload to end', 20_000);
  expect(end.event, JSON.stringify(end)).toBe('reload.done');
  return end;
}

describe('WebSockets (ws)', () => {
  for (const mode of ['server', 'port'] as const) {
    it(`new WebSocketServer({ ${mode} }) under -i 2: ${CLIENTS} clients get 1012 on a reload (old workers gone in under 2 s), reconnect to new pids, and 1001 on stop`, async () => {
      const { nsup, port, first } = await start('ws-echo.js', mode === 'port' ? ['WS_MODE=port'] : []);
      const open = new Set<WebSocket>();
      try {
        const clients = Array.from({ length: CLIENTS }, () => wsClient(port, open));
        await until(() => clients.every((c) => c.pids.length === 1), `${CLIENTS} clients to connect`);
        for (const c of clients) expect(first).toContain(c.pids[0]);

        await reload(nsup);
        expectDrainedFast(nsup, first);
        await until(() => clients.every((c) => c.pids.length === 2), 'every client to reconnect');
        expect(clients.map((c) => c.ends)).toEqual(clients.map(() => [1012]));
        const second = nsup.listeningPids().sort();
        expect(second).toHaveLength(2);
        for (const c of clients) {
          expect(second).toContain(c.pids[1]);
          expect(first).not.toContain(c.pids[1]);
        }

        for (const c of clients) c.stop();
        expect(await stopNsup(nsup)).toBe(0);
        await until(() => clients.every((c) => c.ends.length === 2), 'every client to see the stop');
        expect(clients.map((c) => c.ends)).toEqual(clients.map(() => [1012, 1001]));
        expect(clients.flatMap((c) => c.failures)).toEqual([]);
        expect(await waitGone(nsup.workerPids())).toEqual([]);
      } finally {
        for (const ws of open) ws.terminate();
      }
    });
  }

  it("an onDrain hook closes the app's own WebSockets with its own code: clients see 4000, not 1012", async () => {
    const { nsup, port } = await start('ws-on-drain.js');
    const open = new Set<WebSocket>();
    try {
      const clients = Array.from({ length: 4 }, () => wsClient(port, open));
      await until(() => clients.every((c) => c.pids.length === 1), 'clients to connect');
      await reload(nsup);
      await until(() => clients.every((c) => c.pids.length === 2), 'every client to reconnect');
      expect(clients.map((c) => c.ends)).toEqual(clients.map(() => [4000]));
      for (const c of clients) c.stop();
      expect(await stopNsup(nsup)).toBe(0);
      await until(() => clients.every((c) => c.ends.length === 2), 'every client to see the stop');
      expect(clients.map((c) => c.ends)).toEqual(clients.map(() => [4000, 4000]));
    } finally {
      for (const ws of open) ws.terminate();
    }
  });
});

describe('socket.io on the websocket transport', () => {
  it(`${CLIENTS} socket.io clients under -i 2: a reload closes each with 1012 (a clean "transport close"), they reconnect to new pids; a stop gives 1001`, async () => {
    const { nsup, port, first } = await start('socketio-ws.js');
    const sockets: ClientSocket[] = [];
    try {
      const clients = Array.from({ length: CLIENTS }, () => {
        const seen = { pids: [] as number[], closes: [] as Array<{ reason: string; code: unknown }> };
        const socket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200 });
        socket.on('hello', ({ pid }: { pid: number }) => {
          seen.pids.push(pid);
          changed();
        });
        socket.on('disconnect', (reason, details) => {
          seen.closes.push({ reason, code: (details as { context?: { code?: unknown } } | undefined)?.context?.code });
          changed();
        });
        sockets.push(socket);
        return seen;
      });
      await until(() => clients.every((c) => c.pids.length === 1), `${CLIENTS} socket.io clients to connect`);
      for (const c of clients) expect(first).toContain(c.pids[0]);

      await reload(nsup);
      expectDrainedFast(nsup, first);
      await until(() => clients.every((c) => c.pids.length === 2), 'every socket.io client to reconnect');
      expect(clients.map((c) => c.closes)).toEqual(clients.map(() => [{ reason: 'transport close', code: 1012 }]));
      const second = nsup.listeningPids();
      for (const c of clients) expect(second).toContain(c.pids[1]);

      // No reconnecting after the stop: what each client saw is the stop's close.
      for (const socket of sockets) socket.io.reconnection(false);
      expect(await stopNsup(nsup)).toBe(0);
      await until(() => clients.every((c) => c.closes.length === 2), 'every socket.io client to see the stop');
      for (const c of clients) expect(c.closes[1]).toEqual({ reason: 'transport close', code: 1001 });
    } finally {
      for (const socket of sockets) socket.disconnect();
    }
  });
});

describe('server-sent events', () => {
  it(`${CLIENTS} open text/event-stream responses: the old workers are gone in under 2 s, every stream ends cleanly and reconnects to a new pid`, async () => {
    const { nsup, port, first } = await start('sse-stream.js');
    const open = new Set<http.ClientRequest>();
    try {
      const clients = Array.from({ length: CLIENTS }, () => sseClient(port, open));
      await until(() => clients.every((c) => c.pids.length === 1), `${CLIENTS} streams to open`);

      await reload(nsup);
      expectDrainedFast(nsup, first);
      await until(() => clients.every((c) => c.pids.length === 2), 'every stream to reconnect');
      expect(clients.map((c) => c.ends)).toEqual(clients.map(() => ['end']));
      const second = nsup.listeningPids().sort();
      for (const c of clients) {
        expect(second).toContain(c.pids[1]);
        expect(first).not.toContain(c.pids[1]);
      }

      for (const c of clients) c.stop();
      expect(await stopNsup(nsup)).toBe(0);
      await until(() => clients.every((c) => c.ends.length === 2), 'every stream to end at the stop');
      expect(clients.map((c) => c.ends)).toEqual(clients.map(() => ['end', 'end']));
      expect(clients.flatMap((c) => c.failures)).toEqual([]);
    } finally {
      for (const request of open) request.destroy();
    }
  });
});

describe('connection counts', () => {
  it('each worker reports its open connections by kind: in-flight requests, keep-alive, WebSocket, streams (status --json)', async () => {
    const home = cliHome();
    const project = tmpProject();
    const [ws, sse, slow] = [await freePort(), await freePort(), await freePort()];
    const app = (name: string, script: string, port: number) => `{ name: '${name}', script: ${JSON.stringify(`${FIXTURES}${script}`)}, instances: 1, env: { PORT: '${port}' } }`;
    const config = project.write('supervisor.config.mjs', `export default { apps: [${app('ws', 'ws-echo.js', ws)}, ${app('sse', 'sse-stream.js', sse)}, ${app('slow', 'http-ok.js', slow)}] };`);
    const sockets = new Set<WebSocket>();
    const requests = new Set<http.ClientRequest>();
    const agent = new http.Agent({ keepAlive: true });
    const pids: number[] = [];
    try {
      const started = await home.nsup(['start', '-c', config, '-d']);
      expect(started.exitCode, started.stderr).toBe(0);
      const clients = [...Array.from({ length: 3 }, () => wsClient(ws, sockets)), ...Array.from({ length: 2 }, () => sseClient(sse, requests))];
      await until(() => clients.every((c) => c.pids.length === 1), 'the WebSockets and streams to open');
      await get(ws, '/', { agent }); // leaves one idle keep-alive connection on the ws app's server
      const inFlight = get(slow, '/?delay=10000&tag=counted', { timeoutMs: 20_000 }).catch(() => undefined);
      type Counts = { inFlight: number; keepAlive: number; websocket: number; stream: number } | null;
      const expected: Record<string, Counts> = {
        ws: { inFlight: 0, keepAlive: 1, websocket: 3, stream: 0 },
        sse: { inFlight: 0, keepAlive: 0, websocket: 0, stream: 2 },
        slow: { inFlight: 1, keepAlive: 0, websocket: 0, stream: 0 },
      };
      // Reports come at most once a second, and there is no event to wait for outside the
      // supervisor: status is asked again until it matches (bounded).
      let seen: Record<string, Counts> = {};
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline) {
        const result = await home.nsup(['status', '--json']);
        const doc = JSON.parse(result.stdout) as { supervisors: Array<{ apps: Array<{ name: string; workers: Array<{ pid: number; connections: Counts }> }> }> };
        const apps = doc.supervisors.flatMap((s) => s.apps);
        pids.push(...apps.flatMap((a) => a.workers.map((w) => w.pid)));
        seen = Object.fromEntries(apps.map((a) => [a.name, a.workers[0]?.connections ?? null]));
        if (JSON.stringify(seen) === JSON.stringify({ ws: expected.ws, sse: expected.sse, slow: expected.slow })) break;
      }
      expect(seen).toEqual(expected);
      for (const c of clients) c.stop();
      const stopped = await home.nsup(['stop', 'all']);
      expect(stopped.exitCode, stopped.stderr).toBe(0);
      await inFlight;
    } finally {
      for (const socket of sockets) socket.terminate();
      for (const request of requests) request.destroy();
      agent.destroy();
      await home.dispose(pids);
      project.dispose();
    }
  });
});

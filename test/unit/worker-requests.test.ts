// Issue 16, maxRequests in the worker (worker/requests.ts): requests counted on a real HTTP server
// (keep-alive requests, a WebSocket upgrade through ws, an event stream), one `recycle` message at
// the limit and none after, and, without a limit, the count alone (issue 15: always on). Each test
// loads the worker modules afresh: their state is per process, as in a worker.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { RecycleMessage } from '../../src/ipc/protocol.ts';

type Requests = typeof import('../../src/worker/requests.ts');
type Connections = typeof import('../../src/worker/connections.ts');
type Report = typeof import('../../src/worker/report.ts');

let requests: Requests;
let connections: Connections;
let report: Report;
const cleanup: Array<() => unknown> = [];

beforeEach(async () => {
  vi.resetModules();
  requests = await import('../../src/worker/requests.ts');
  connections = await import('../../src/worker/connections.ts');
  report = await import('../../src/worker/report.ts');
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A server that answers `/` with 'ok' and `/events` with an open event stream, tracked as runtime.ts does on listen. */
async function serve(counting: boolean): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hello\n\n');
      return;
    }
    res.end('ok');
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  connections.trackServer(server);
  if (counting) requests.watchServer(server);
  cleanup.push(() => new Promise((resolve) => {
    wss.close();
    server.closeAllConnections();
    server.close(resolve);
  }));
  return { server, port: (server.address() as net.AddressInfo).port };
}

function get(port: number, path: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Open an event stream, read its first event, then hang up. */
function readEvent(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/events' }, (res) => {
      res.setEncoding('utf8').once('data', (chunk: string) => {
        req.destroy();
        resolve(chunk);
      });
    });
    req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
  });
}

async function openWebSocket(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  cleanup.push(() => ws.terminate());
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  // Round trip: the server side has handled the upgrade.
  ws.send('ping');
  await new Promise((resolve) => ws.once('message', resolve));
  return ws;
}

function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  cleanup.push(() => agent.destroy());
  return agent;
}

describe('maxRequests counting (worker/requests.ts)', () => {
  it('counts keep-alive requests, a WebSocket upgrade and an event stream; one recycle message at the limit, none after', async () => {
    const sent: RecycleMessage[] = [];
    requests.countRequests(8, (message) => sent.push(message));
    const { server, port } = await serve(true);
    const agent = keepAliveAgent();
    const sockets = new Set<net.Socket>();
    server.on('connection', (socket) => sockets.add(socket));

    for (let i = 0; i < 5; i++) expect(await get(port, '/', agent)).toBe('ok');
    expect(sockets.size).toBe(1); // all five on one keep-alive connection
    expect(requests.requestCount()).toBe(5);

    await openWebSocket(port);
    expect(requests.requestCount()).toBe(6);

    expect(await readEvent(port)).toBe('data: hello\n\n');
    expect(requests.requestCount()).toBe(7);
    expect(sent).toEqual([]);

    await get(port, '/', agent);
    expect(requests.requestCount()).toBe(8);
    expect(sent).toEqual([{ nsup: 1, type: 'recycle', requests: 8 }]);

    await get(port, '/', agent);
    await get(port, '/', agent);
    expect(requests.requestCount()).toBe(10);
    expect(sent).toHaveLength(1);
    // The app still sees its one listener; the count is in the connections report.
    expect(server.listenerCount('request')).toBe(1);
    expect(report.connectionCounts().requests).toBe(10);
  });

  it("wraps a server's emit once, however often it is watched", async () => {
    requests.countRequests(1000, () => {});
    const { server, port } = await serve(true);
    requests.watchServer(server);
    requests.watchServer(server);
    await get(port, '/', keepAliveAgent());
    expect(requests.requestCount()).toBe(1);
  });

  it('counts connections on a plain net server', async () => {
    requests.countRequests(1000, () => {});
    const server = net.createServer((socket) => socket.end('bye'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    requests.watchServer(server);
    const port = (server.address() as net.AddressInfo).port;
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => net.connect(port, '127.0.0.1').on('end', resolve).on('error', reject).resume());
    }
    expect(requests.requestCount()).toBe(3);
  });

  it('counts streams on an HTTP/2 server', async () => {
    requests.countRequests(1000, () => {});
    const server = http2.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    requests.watchServer(server as unknown as net.Server);
    const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    cleanup.push(() => new Promise((resolve) => {
      client.close();
      server.close(resolve);
    }));
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => client.request({ ':path': '/' }).on('error', reject).on('end', resolve).resume());
    }
    expect(requests.requestCount()).toBe(3);
  });

  it('without maxRequests (NSUP_MAX_REQUESTS unset): still counted (issue 15), with the one request listener, and never a recycle message', async () => {
    expect(requests.requestLimitFromEnv({})).toBeNull();
    expect(requests.requestLimitFromEnv({ NSUP_MAX_REQUESTS: '0' })).toBeNull();
    expect(requests.requestLimitFromEnv({ NSUP_MAX_REQUESTS: 'x' })).toBeNull();
    expect(requests.requestLimitFromEnv({ NSUP_MAX_REQUESTS: '1093' })).toBe(1093);
    const send = vi.spyOn(process, 'send' as never);
    cleanup.push(() => send.mockRestore());
    const { server, port } = await serve(true);
    expect(server.listenerCount('request')).toBe(1);
    const agent = keepAliveAgent();
    for (let i = 0; i < 3; i++) await get(port, '/', agent);
    await openWebSocket(port);
    expect(requests.requestCount()).toBe(4);
    expect(report.connectionCounts().requests).toBe(4);
    expect(send).not.toHaveBeenCalled();
  });
});

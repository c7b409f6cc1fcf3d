// The metrics server's failures stay inside it: a server 'error' after listen is logged, a
// response that throws while being built is a 500 (logged once), a malformed request is a
// quiet 400.
import http from 'node:http';
import net from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.ts';
import { UsageSampler } from '../../src/metrics/usage.ts';
import type { Supervisor } from '../../src/supervisor/supervisor.ts';

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function captureLogger() {
  const events: Array<Record<string, unknown>> = [];
  const logger = pino({ base: undefined }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, events };
}

// Only what the metrics server reads; `broken` makes every read of the app table throw, as a bug would.
function fakeSupervisor() {
  const state = { broken: false };
  const supervisor = {
    get apps() {
      if (state.broken) throw new Error('app table is corrupt');
      return new Map();
    },
    isStopping: false,
    messagesRelayed: 0,
    onForeignMessage: () => {},
    sendTo: () => false,
  } as unknown as Supervisor;
  return { supervisor, state };
}

async function start() {
  const { logger, events } = captureLogger();
  const { supervisor, state } = fakeSupervisor();
  const metrics = await startMetricsServer({ port: 0, host: '127.0.0.1', supervisor, usage: new UsageSampler(), logger });
  servers.push(metrics);
  return { metrics, events, state, errors: () => events.filter((e) => e.event === 'metrics.error') };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('metrics server errors', () => {
  it("an 'error' on the listening server is logged as metrics.error and contained; it still answers", async () => {
    const { metrics, errors } = await start();
    const error = Object.assign(new Error('accept ENFILE'), { code: 'ENFILE', syscall: 'accept' });
    expect(() => metrics.server.emit('error', error)).not.toThrow();
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({ event: 'metrics.error', host: '127.0.0.1', port: metrics.port, code: 'ENFILE' });
    expect(errors()[0]!.msg).toContain(`metrics server on 127.0.0.1:${metrics.port} failed: accept ENFILE. The apps keep running`);
    expect(errors()[0]!.msg).toMatch(/may not answer until nsup is restarted/);
    expect((await get(metrics.port, '/healthz')).status).toBe(200);
  });

  it('/readyz throwing is answered 500 and logged once until it answers again', async () => {
    const { metrics, errors, state } = await start();
    expect((await get(metrics.port, '/readyz')).status).toBe(200);
    state.broken = true;
    const first = await get(metrics.port, '/readyz');
    expect(first).toEqual({ status: 500, body: '/readyz failed: app table is corrupt\n' });
    expect((await get(metrics.port, '/readyz')).status).toBe(500);
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({ event: 'metrics.error', path: '/readyz' });
    expect(errors()[0]!.msg).toMatch(/answering \/readyz failed: app table is corrupt; it answers 500 until this is fixed/);
    state.broken = false;
    expect((await get(metrics.port, '/readyz')).status).toBe(200);
    state.broken = true;
    expect((await get(metrics.port, '/readyz')).status).toBe(500);
    expect(errors()).toHaveLength(2);
  });

  it('/metrics whose collection throws is answered 500 and logged', async () => {
    const { metrics, errors, state } = await start();
    state.broken = true;
    const res = await get(metrics.port, '/metrics');
    expect(res.status).toBe(500);
    expect(res.body).toMatch(/^\/metrics failed: .*app table is corrupt/);
    expect(errors()).toEqual([expect.objectContaining({ event: 'metrics.error', path: '/metrics' })]);
  });

  it('a malformed request gets 400 and the socket closed, with nothing logged', async () => {
    const { metrics, events } = await start();
    const before = events.length;
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(metrics.port, '127.0.0.1', () => socket.write('GET /metrics HTTP/1.1\r\nbad header line\r\n\r\n'));
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(events.slice(before)).toEqual([]);
    expect((await get(metrics.port, '/healthz')).status).toBe(200);
  });
});

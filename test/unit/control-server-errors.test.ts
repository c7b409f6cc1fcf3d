// The control socket's failures stay inside it: a server 'error' after listen, a handler that
// throws synchronously, a reply to a client that already left, a result that cannot be encoded.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../../src/control/client.ts';
import { encodeFrame, PROTOCOL_VERSION } from '../../src/control/protocol.ts';
import { ControlServer, type Handler } from '../../src/control/server.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function captureLogger() {
  const events: Array<Record<string, unknown>> = [];
  const logger = pino({ base: undefined }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, events };
}

async function serve(handlers: Record<string, Handler>) {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-control-err-'));
  const path = join(dir, 'nsup.sock');
  const { logger, events } = captureLogger();
  const control = new ControlServer({ path, handlers: { ping: async () => 'pong', ...handlers }, logger });
  await control.listen();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => control.close());
  return { control, path, events };
}

describe('ControlServer errors', () => {
  it("an 'error' on the listening server is logged as control.error and contained; requests still work", async () => {
    const { control, path, events } = await serve({});
    const server = control['server'];
    const error = Object.assign(new Error('accept ENFILE'), { code: 'ENFILE', syscall: 'accept' });
    expect(() => server.emit('error', error)).not.toThrow();
    const event = events.find((e) => e.event === 'control.error')!;
    expect(event).toMatchObject({ event: 'control.error', socket: path, code: 'ENFILE' });
    expect(event.msg).toContain(path);
    expect(event.msg).toMatch(/nsup status\/reload\/stop cannot reach this supervisor until it is restarted/);
    expect(event.msg).toMatch(/a SIGTERM \(kill \d+\) still stops it/);
    expect(await request(path, 'ping', {}, { timeoutMs: 2000 })).toBe('pong');
  });

  it('a handler that throws synchronously gets an internal-error reply and a log line', async () => {
    const boom: Handler = () => {
      throw new Error('sync boom');
    };
    const { path, events } = await serve({ boom });
    await expect(request(path, 'boom', {}, { timeoutMs: 2000 })).rejects.toThrow(/internal error in 'boom': sync boom/);
    expect(events).toContainEqual(expect.objectContaining({ event: 'control.error', cmd: 'boom' }));
    expect(await request(path, 'ping', {}, { timeoutMs: 2000 })).toBe('pong');
  });

  it('a result that cannot be encoded becomes an error reply, not a throw', async () => {
    const { path } = await serve({ big: async () => ({ n: 1n }) });
    await expect(request(path, 'big', {}, { timeoutMs: 2000 })).rejects.toThrow(/Cannot encode a control frame: .*BigInt.*Send plain JSON data/);
  });

  it('replies and streamed lines to a client that already left go nowhere, and nothing throws', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let streamed: boolean | null = null;
    let handled!: () => void;
    const done = new Promise<void>((resolve) => (handled = resolve));
    const { path } = await serve({
      slow: async (_args, ctx) => {
        await released;
        streamed = ctx.stream('a line for nobody');
        handled();
        return { late: true };
      },
    });
    const client = net.connect(path);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    client.write(encodeFrame({ v: PROTOCOL_VERSION, id: 7, cmd: 'slow', args: {} }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await done;
    expect(streamed).toBe(false);
    expect(await request(path, 'ping', {}, { timeoutMs: 2000 })).toBe('pong');
  });
});

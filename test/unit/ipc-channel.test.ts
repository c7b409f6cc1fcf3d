// Issue 5: worker channels talking through the real relay, in one process. The fake transport
// encodes each message the way Node's IPC would (JSON or V8) and delivers it asynchronously, in order.
import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Channel } from '../../src/ipc/channel.ts';
import { Relay, type RelayTarget } from '../../src/ipc/relay.ts';
import type { Logger } from '../../src/log/logger.ts';

type Mode = 'json' | 'advanced';
interface Node {
  channel: Channel;
  target: RelayTarget;
  alive: boolean;
}

function loopback(layout: Array<{ app: string; count: number; mode?: Mode }>) {
  const logger = { warn: vi.fn() } as unknown as Logger;
  const nodes: Node[] = [];
  const relay = new Relay(
    { targets: (app) => nodes.filter((n) => n.alive && n.target.app === app).map((n) => n.target), apps: () => layout.map((l) => l.app) },
    logger,
  );
  let key = 1;
  for (const { app, count, mode = 'json' } of layout) {
    for (let slot = 0; slot < count; slot++) {
      const node = { alive: true } as Node;
      const encode = (message: unknown) => (mode === 'json' ? JSON.parse(JSON.stringify(message)) : v8.deserialize(v8.serialize(message)));
      node.target = {
        key: key++, app, slot, pid: 1000 + slot,
        send: (message) => {
          const copy = encode(message);
          setImmediate(() => node.alive && node.channel.receive(copy));
          return node.alive;
        },
      };
      const port = {
        get connected() {
          return node.alive;
        },
        send: (message: unknown) => {
          const copy = encode(message);
          setImmediate(() => node.alive && relay.onMessage(node.target, copy));
        },
      };
      node.channel = new Channel({ port, app, id: slot, serialization: mode });
      nodes.push(node);
    }
  }
  const at = (app: string, slot: number) => nodes.find((n) => n.target.app === app && n.target.slot === slot)!;
  const kill = (node: Node) => {
    node.alive = false;
    node.channel.close();
    relay.onWorkerExit(node.target.key);
  };
  return { relay, at, kill, logger };
}

const caught = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected a rejection'); }, (error: Error & { code?: string }) => error);
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

afterEach(() => vi.restoreAllMocks());

describe('request/reply', () => {
  it('resolves with a sync or async handler value; the handler learns who asked', async () => {
    const { at, relay } = loopback([{ app: 'web', count: 2 }, { app: 'api', count: 1 }]);
    at('web', 1).channel.on('add', (data, from, sender) => ({ sum: (data as number[]).reduce((a, b) => a + b), from, sender }));
    at('api', 0).channel.on('later', async (data) => `later ${String(data)}`);
    expect(await at('web', 0).channel.request(1, 'add', [1, 2, 3])).toEqual({ sum: 6, from: 0, sender: { app: 'web', id: 0 } });
    expect(await at('web', 1).channel.request({ app: 'api', id: 0 }, 'later', 7)).toBe('later 7');
    expect(await at('web', 1).channel.request(1, 'add', [5])).toMatchObject({ sum: 5, from: 1 }); // to itself
    expect(relay.inFlight).toBe(0);
    expect(at('web', 0).channel.pendingCount).toBe(0);
  });

  it('rejects with the handler error message, the original as cause', async () => {
    const { at } = loopback([{ app: 'web', count: 2 }]);
    at('web', 1).channel.on('boom', () => {
      throw Object.assign(new RangeError('out of widgets'), { code: 'E_WIDGETS' });
    });
    at('web', 1).channel.on('reject', async () => Promise.reject(new Error('async no')));
    const error = await caught(at('web', 0).channel.request(1, 'boom'));
    expect(error.code).toBe('NSUP_ERR_IPC_HANDLER_FAILED');
    expect(error.message).toBe("the handler for 'boom' on worker 1 of app 'web' failed: out of widgets");
    expect(error.cause).toMatchObject({ name: 'RangeError', message: 'out of widgets', code: 'E_WIDGETS' });
    expect((error.cause as Error).stack).toContain('out of widgets');
    expect((await caught(at('web', 0).channel.request(1, 'reject'))).message).toMatch(/failed: async no$/);
  });

  it('rejects when the target has no handler, or does not exist', async () => {
    const { at } = loopback([{ app: 'web', count: 2 }]);
    const none = await caught(at('web', 0).channel.request(1, 'nobody'));
    expect(none.code).toBe('NSUP_ERR_IPC_NO_HANDLER');
    expect(none.message).toBe("worker 1 of app 'web' has no handler for 'nobody'. Register one there with on('nobody', fn).");
    const missing = await caught(at('web', 0).channel.request(4, 'x'));
    expect(missing.code).toBe('NSUP_ERR_IPC_NO_TARGET');
    expect(missing.message).toContain("worker 4 of app 'web' is not running");
  });

  it('times out, and the primary forgets the request too', async () => {
    const { at, relay } = loopback([{ app: 'web', count: 2 }]);
    at('web', 1).channel.on('hang', () => new Promise(() => {}));
    const started = Date.now();
    const error = await caught(at('web', 0).channel.request(1, 'hang', null, { timeout: 60 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(error.code).toBe('NSUP_ERR_IPC_TIMEOUT');
    expect(error.message).toBe("request('hang') to worker 1 of app 'web' got no reply within 60 ms. Raise { timeout } or make the handler answer sooner.");
    await tick();
    expect(relay.inFlight).toBe(0);
    expect(at('web', 0).channel.pendingCount).toBe(0);
  });

  it('fails at once when the target exits mid-request, with nothing left pending', async () => {
    const { at, relay, kill } = loopback([{ app: 'web', count: 2 }]);
    let started!: () => void;
    const handling = new Promise<void>((resolve) => (started = resolve));
    at('web', 1).channel.on('hang', () => (started(), new Promise(() => {})));
    const pending = caught(at('web', 0).channel.request(1, 'hang', null, { timeout: 10_000 }));
    await handling;
    kill(at('web', 1));
    const error = await pending;
    expect(error.code).toBe('NSUP_ERR_IPC_TARGET_EXITED');
    expect(error.message).toBe("request('hang') to worker 1 of app 'web': it exited before it answered.");
    expect(relay.inFlight).toBe(0);
    expect(at('web', 0).channel.pendingCount).toBe(0);
  });

  it('close() fails pending requests at once (the channel to the primary is gone)', async () => {
    const { at } = loopback([{ app: 'web', count: 2 }]);
    at('web', 1).channel.on('hang', () => new Promise(() => {}));
    const pending = caught(at('web', 0).channel.request(1, 'hang'));
    at('web', 0).channel.close();
    expect((await pending).code).toBe('NSUP_ERR_IPC_DISCONNECTED');
    expect(at('web', 0).channel.pendingCount).toBe(0);
  });

  it('a reply that cannot be sent becomes an error for the requester', async () => {
    const { at } = loopback([{ app: 'web', count: 2 }]);
    at('web', 1).channel.on('fn', () => ({ cb() {} }));
    const error = await caught(at('web', 0).channel.request(1, 'fn'));
    expect(error.code).toBe('NSUP_ERR_IPC_UNSENDABLE');
    expect(error.message).toBe("the reply of worker 1 of app 'web' to request('fn'): property 'cb' is a function, which cannot be sent between processes. Send plain data.");
  });
});

describe('send and on', () => {
  it('delivers to every handler of the topic; unsubscribe stops it; request uses the first', async () => {
    const { at } = loopback([{ app: 'web', count: 2 }]);
    const seen: string[] = [];
    const off = at('web', 1).channel.on('t', (data) => void seen.push(`a:${String(data)}`));
    at('web', 1).channel.on('t', (data) => (seen.push(`b:${String(data)}`), 'from b'));
    at('web', 0).channel.send(1, 't', 1);
    expect(await at('web', 0).channel.request(1, 't', 2)).toBeUndefined();
    off();
    off();
    at('web', 0).channel.send('others', 't', 3);
    expect(await at('web', 0).channel.request(1, 't', 4)).toBe('from b');
    expect(seen).toEqual(['a:1', 'b:1', 'a:2', 'b:3', 'b:4']);
  });

  it('a failing handler of a plain message is reported, and the others still run', async () => {
    const { at } = loopback([{ app: 'web', count: 2 }]);
    const report = vi.spyOn(console, 'error').mockImplementation(() => {});
    const seen: unknown[] = [];
    at('web', 1).channel.on('t', () => {
      throw new Error('bad handler');
    });
    at('web', 1).channel.on('t', (data) => void seen.push(data));
    at('web', 0).channel.send(1, 't', 'x');
    await tick();
    expect(seen).toEqual(['x']);
    expect(report).toHaveBeenCalledWith("nsup: the handler for 't' (message from worker 0 of app 'web') failed:", expect.objectContaining({ message: 'bad handler' }));
  });

  it('refuses bad arguments at the sender', async () => {
    const { at } = loopback([{ app: 'web', count: 1 }]);
    const c = at('web', 0).channel;
    expect(() => c.send('everyone' as never, 't')).toThrow(expect.objectContaining({ name: 'TypeError', code: 'NSUP_ERR_IPC_INVALID_ARGUMENT' }));
    expect(() => c.send(0, '')).toThrow(/send\(\): the topic must be a non-empty string of at most 256 characters; got "" \(string\)/);
    expect(() => c.send(0, 't', 10n)).toThrow(/^send\('t'\): the data is a BigInt/);
    expect(() => c.on('t', 'nope' as never)).toThrow(/on\('t'\): the handler must be a function/);
    expect((await caught(c.request('all' as never, 't'))).message).toMatch(/^request\(\): the target must be a worker id/);
    const timeout = await caught(c.request(0, 't', null, { timeout: -1 }));
    expect(timeout).toBeInstanceOf(RangeError);
    expect((await caught(c.request(0, 't', 'x'.repeat(2 << 20)))).code).toBe('NSUP_ERR_IPC_TOO_LARGE');
  });

  it('ignores messages that are not messaging ones', () => {
    const { at } = loopback([{ app: 'web', count: 1 }]);
    const c = at('web', 0).channel;
    expect(c.receive({ nsup: 1, type: 'shutdown', timeoutMs: 100 })).toBe(false);
    expect(c.receive({ topic: 't', data: 1 })).toBe(false);
    expect(c.receive('hello')).toBe(false);
  });
});

describe('advanced serialization', () => {
  it('Map, Set, BigInt and Buffer survive both ways', async () => {
    const { at } = loopback([{ app: 'bin', count: 2, mode: 'advanced' }]);
    at('bin', 1).channel.on('echo', (data) => data);
    const data = { map: new Map([['a', 1]]), set: new Set([2]), big: 2n ** 70n, buf: Buffer.from('hi') };
    const back = (await at('bin', 0).channel.request(1, 'echo', data)) as typeof data;
    expect(back.map).toBeInstanceOf(Map);
    expect(back.map.get('a')).toBe(1);
    expect(back.set.has(2)).toBe(true);
    expect(back.big).toBe(2n ** 70n);
    expect(Buffer.from(back.buf).toString()).toBe('hi');
  });
});

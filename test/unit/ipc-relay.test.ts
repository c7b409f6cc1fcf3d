// Issue 5: the primary's relay, against recording fake workers: routing, fast failures,
// bookkeeping that does not leak when workers die, and one throttled log line per failure.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/logger.ts';
import { Relay, type RelayTarget } from '../../src/ipc/relay.ts';

interface Fake extends RelayTarget {
  inbox: Array<Record<string, unknown>>;
}

function setup(layout: Record<string, number> = { web: 3, api: 1 }) {
  const logs: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const logger = { warn: (fields: Record<string, unknown>, msg: string) => logs.push({ fields, msg }) } as unknown as Logger;
  const workers: Fake[] = [];
  let key = 1;
  for (const [app, count] of Object.entries(layout)) {
    for (let slot = 0; slot < count; slot++) {
      const inbox: Fake['inbox'] = [];
      workers.push({ key: key++, app, slot, pid: 100 + key, inbox, send: (m) => (inbox.push(m as Record<string, unknown>), true) });
    }
  }
  const live = new Set(workers);
  const relay = new Relay({ targets: (app) => workers.filter((w) => w.app === app && live.has(w)), apps: () => Object.keys(layout) }, logger);
  const w = (app: string, slot: number) => workers.find((x) => x.app === app && x.slot === slot)!;
  const exit = (worker: Fake) => {
    live.delete(worker);
    relay.onWorkerExit(worker.key);
  };
  return { relay, logs, workers, w, exit };
}

const send = (to: unknown, topic = 't', data: unknown = 1) => ({ nsup: 1, type: 'send', to, topic, data });
const request = (seq: number, to: unknown, topic = 't') => ({ nsup: 1, type: 'request', seq, to, topic, data: 'q' });

describe('send', () => {
  it('to a worker id, within the sender app', () => {
    const { relay, w } = setup();
    expect(relay.onMessage(w('web', 0), send(2, 'hello', { a: 1 }))).toBe(true);
    expect(w('web', 2).inbox).toEqual([{ nsup: 1, type: 'deliver', topic: 'hello', data: { a: 1 }, from: 0, fromApp: 'web' }]);
    expect(w('web', 1).inbox).toEqual([]);
    expect(w('api', 0).inbox).toEqual([]);
    expect(relay.relayed).toBe(1);
  });

  it("'all' includes the sender, 'others' does not, neither leaves the app", () => {
    const { relay, w, workers } = setup();
    relay.onMessage(w('web', 1), send('all'));
    expect(workers.map((x) => x.inbox.length)).toEqual([1, 1, 1, 0]);
    relay.onMessage(w('web', 1), send('others'));
    expect(workers.map((x) => x.inbox.length)).toEqual([2, 1, 2, 0]);
    expect(relay.relayed).toBe(5);
  });

  it('to another app: { app } is every worker of it, { app, id } one', () => {
    const { relay, w, workers } = setup({ web: 1, api: 2 });
    relay.onMessage(w('web', 0), send({ app: 'api' }));
    relay.onMessage(w('web', 0), send({ app: 'api', id: 1 }));
    expect(workers.map((x) => x.inbox.length)).toEqual([0, 1, 2]);
    expect(w('api', 1).inbox[0]).toMatchObject({ from: 0, fromApp: 'web' });
  });

  it('with two workers listed for a slot (a reload): an id reaches the first, a broadcast both', () => {
    const { relay, w, workers } = setup({ web: 2 });
    const inbox: Fake['inbox'] = [];
    const newer: Fake = { key: 99, app: 'web', slot: 1, pid: 999, inbox, send: (m) => (inbox.push(m as Record<string, unknown>), true) };
    const relayWith = new Relay({ targets: () => [workers[0]!, workers[1]!, newer], apps: () => ['web'] }, { warn() {} } as unknown as Logger);
    relayWith.onMessage(w('web', 0), send(1));
    expect([w('web', 1).inbox.length, inbox.length]).toEqual([1, 0]);
    relayWith.onMessage(w('web', 0), send('others'));
    expect([w('web', 1).inbox.length, inbox.length]).toEqual([2, 1]);
    expect(relay.relayed).toBe(0);
  });

  it('to a missing worker: dropped, logged at the 1st and 10th time only', () => {
    const { relay, w, logs } = setup();
    for (let i = 0; i < 12; i++) relay.onMessage(w('web', 0), send(7, 'ping'));
    expect(relay.dropped).toBe(12);
    expect(logs.map((l) => l.fields.count)).toEqual([1, 10]);
    expect(logs[0]!.fields).toMatchObject({ event: 'ipc.undeliverable', app: 'web', worker: 0, topic: 'ping' });
    expect(logs[0]!.msg).toBe("send('ping') from worker 0 of app 'web': worker 7 of app 'web' is not running (running workers: 0, 1, 2); dropped");
    relay.onMessage(w('web', 0), send({ app: 'nope' }, 'ping'));
    expect(logs).toHaveLength(2); // same worker and event: the 13th failure is not logged
  });

  it('never throws when a target cannot encode the data', () => {
    const { relay, w, logs } = setup({ web: 2 });
    w('web', 1).send = () => {
      throw new TypeError('Do not know how to serialize a BigInt');
    };
    expect(() => relay.onMessage(w('web', 0), send(1, 't', 10n))).not.toThrow();
    expect(logs[0]!.msg).toMatch(/to worker 1 of app 'web': the data cannot be encoded for that worker's IPC channel \(Do not know how to serialize a BigInt\); dropped$/);
  });
});

describe('request', () => {
  it('is forwarded as invoke and its response goes back to the requester by seq', () => {
    const { relay, w } = setup();
    relay.onMessage(w('web', 0), request(5, { app: 'api', id: 0 }, 'sum'));
    const invoke = w('api', 0).inbox[0]!;
    expect(invoke).toMatchObject({ type: 'invoke', seq: 5, topic: 'sum', data: 'q', from: 0, fromApp: 'web' });
    expect(relay.inFlight).toBe(1);
    relay.onMessage(w('api', 0), { nsup: 1, type: 'response', seq: 5, via: invoke.via, ok: true, data: 42 });
    expect(w('web', 0).inbox).toEqual([{ nsup: 1, type: 'reply', seq: 5, ok: true, data: 42 }]);
    expect(relay.inFlight).toBe(0);
    expect(relay.relayed).toBe(2); // the request and its answer
  });

  it('to a missing worker or app: fails at once, naming it', () => {
    const { relay, w } = setup();
    relay.onMessage(w('web', 0), request(1, 9, 'sum'));
    relay.onMessage(w('web', 0), request(2, { app: 'db', id: 0 }, 'sum'));
    const [a, b] = w('web', 0).inbox;
    expect(a).toMatchObject({ type: 'reply', seq: 1, ok: false, error: { code: 'NSUP_ERR_IPC_NO_TARGET' } });
    expect((a!.error as { message: string }).message).toBe("request('sum'): worker 9 of app 'web' is not running (running workers: 0, 1, 2).");
    expect((b!.error as { message: string }).message).toBe("request('sum'): there is no app named 'db' (apps: web, api).");
    expect(relay.inFlight).toBe(0);
    expect(relay.relayed).toBe(0); // the primary's own answers are not relayed messages
  });

  it('pending on a worker that exits: fails at once; nothing is left behind', () => {
    const { relay, w, exit } = setup();
    relay.onMessage(w('web', 0), request(1, 2, 'slow'));
    relay.onMessage(w('web', 1), request(1, 2, 'slow'));
    relay.onMessage(w('web', 0), request(2, 1, 'other'));
    exit(w('web', 2));
    expect(w('web', 0).inbox).toEqual([
      { nsup: 1, type: 'reply', seq: 1, ok: false, error: { code: 'NSUP_ERR_IPC_TARGET_EXITED', message: "request('slow') to worker 2 of app 'web': it exited before it answered." } },
    ]);
    expect(w('web', 1).inbox.at(-1)).toMatchObject({ type: 'reply', seq: 1, ok: false });
    expect(relay.inFlight).toBe(1);
    exit(w('web', 0)); // the requester of the last one
    expect(relay.inFlight).toBe(0);
  });

  it('drops a response from a worker that was not asked, and a late one after cancel', () => {
    const { relay, w } = setup();
    relay.onMessage(w('web', 0), request(1, 1));
    const via = w('web', 1).inbox[0]!.via;
    relay.onMessage(w('web', 2), { nsup: 1, type: 'response', seq: 1, via, ok: true, data: 'forged' });
    expect(w('web', 0).inbox).toEqual([]);
    relay.onMessage(w('web', 0), { nsup: 1, type: 'cancel', seq: 1 });
    expect(relay.inFlight).toBe(0);
    relay.onMessage(w('web', 1), { nsup: 1, type: 'response', seq: 1, via, ok: true, data: 'late' });
    expect(w('web', 0).inbox).toEqual([]);
    expect(relay.dropped).toBe(2);
  });

  it('a reply the requester cannot decode becomes an error reply', () => {
    const { relay, w } = setup({ web: 2 });
    relay.onMessage(w('web', 0), request(3, 1));
    const inbox = w('web', 0).inbox;
    w('web', 0).send = (m) => {
      if ((m as { data?: unknown }).data === 10n) throw new TypeError('Do not know how to serialize a BigInt');
      inbox.push(m as Record<string, unknown>);
      return true;
    };
    relay.onMessage(w('web', 1), { nsup: 1, type: 'response', seq: 3, via: w('web', 1).inbox[0]!.via, ok: true, data: 10n });
    expect(inbox).toEqual([{ nsup: 1, type: 'reply', seq: 3, ok: false, error: { code: 'NSUP_ERR_IPC_UNSENDABLE', message: expect.stringMatching(/^request\('t'\) to worker 1 of app 'web': the reply cannot be encoded for this worker's IPC channel \(Do not know/) } }]);
  });
});

describe('malformed messages', () => {
  it('are dropped with one warn line, never a throw', () => {
    const { relay, w, logs } = setup();
    expect(relay.onMessage(w('web', 0), { nsup: 1, type: 'bogus' })).toBe(false);
    expect(relay.onMessage(w('web', 0), { nsup: 1, type: 'send', to: 'everyone', topic: 't' })).toBe(false);
    expect(relay.onMessage(w('web', 0), null)).toBe(false);
    expect(logs).toHaveLength(1);
    expect(logs[0]!.fields).toMatchObject({ event: 'ipc.malformed', app: 'web', worker: 0, reason: 'unknown type "bogus"' });
    expect(logs[0]!.msg).toBe(`worker 0 of app 'web' sent a malformed nsup message (unknown type "bogus"); dropped`);
    expect(relay.dropped).toBe(3);
  });
});

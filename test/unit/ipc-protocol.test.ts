// Issue 5: the internal message shapes and their guards (what the relay accepts, what it drops).
import { describe, expect, it } from 'vitest';
import { isInternal, isReadyMessage, isRequestTarget, isTarget, parsePrimaryMessage, parseWorkerMessage } from '../../src/ipc/protocol.ts';

describe('targets', () => {
  const matrix: Array<[unknown, boolean, boolean]> = [
    // value, valid send() target, valid request() target
    [0, true, true],
    [3, true, true],
    [-1, false, false],
    [1.5, false, false],
    [Number.NaN, false, false],
    ['0', false, false],
    ['all', true, false],
    ['others', true, false],
    ['everyone', false, false],
    [{ app: 'api' }, true, false],
    [{ app: 'api', id: 2 }, true, true],
    [{ app: 'api', id: -2 }, false, false],
    [{ app: '' , id: 0 }, false, false],
    [{ id: 0 }, false, false],
    [null, false, false],
    [undefined, false, false],
  ];
  for (const [value, send, request] of matrix) {
    it(`${JSON.stringify(value) ?? String(value)}: send ${send}, request ${request}`, () => {
      expect(isTarget(value)).toBe(send);
      expect(isRequestTarget(value)).toBe(request);
    });
  }
});

describe('parseWorkerMessage', () => {
  const ok = [
    { nsup: 1, type: 'send', to: 'others', topic: 't', data: { a: 1 } },
    { nsup: 1, type: 'send', to: { app: 'b' }, topic: 't' },
    { nsup: 1, type: 'request', seq: 1, to: { app: 'b', id: 0 }, topic: 't' },
    { nsup: 1, type: 'response', seq: 4, via: 2, ok: true, data: 5 },
    { nsup: 1, type: 'response', seq: 4, via: 2, ok: false, error: { code: 'NSUP_ERR_IPC_HANDLER_FAILED', message: 'x' } },
    { nsup: 1, type: 'cancel', seq: 9 },
  ];
  for (const message of ok) {
    it(`accepts ${message.type} ${JSON.stringify(message)}`, () => expect(parseWorkerMessage(message)).toBe(message));
  }

  const bad: Array<[unknown, RegExp]> = [
    [{ nsup: 1, type: 'bogus' }, /unknown type "bogus"/],
    [{ nsup: 1, type: 'send', to: 'every', topic: 't' }, /bad 'to'/],
    [{ nsup: 1, type: 'send', to: 0, topic: '' }, /bad 'topic'/],
    [{ nsup: 1, type: 'send', to: 0, topic: 'x'.repeat(300) }, /bad 'topic'/],
    [{ nsup: 1, type: 'request', seq: 0, to: 1, topic: 't' }, /bad 'seq'/],
    [{ nsup: 1, type: 'request', seq: 1, to: 'all', topic: 't' }, /bad 'to'/],
    [{ nsup: 1, type: 'response', seq: 1, via: 1, ok: 'yes' }, /bad 'ok'/],
    [{ nsup: 1, type: 'response', seq: 1, via: 1, ok: false }, /bad 'ok'/],
    [{ nsup: 1, type: 'cancel' }, /bad 'seq'/],
    [{ nsup: 2, type: 'send' }, /not an nsup message/],
    ['ready', /not an nsup message/],
  ];
  for (const [message, reason] of bad) {
    it(`refuses ${JSON.stringify(message)}`, () => expect(parseWorkerMessage(message)).toMatch(reason));
  }
});

describe('parsePrimaryMessage', () => {
  it('accepts deliver, invoke and reply; nothing else', () => {
    const deliver = { nsup: 1, type: 'deliver', topic: 't', data: 1, from: 0, fromApp: 'web' };
    const invoke = { nsup: 1, type: 'invoke', seq: 1, via: 3, topic: 't', from: 0, fromApp: 'web' };
    const reply = { nsup: 1, type: 'reply', seq: 1, ok: true, data: null };
    expect(parsePrimaryMessage(deliver)).toBe(deliver);
    expect(parsePrimaryMessage(invoke)).toBe(invoke);
    expect(parsePrimaryMessage(reply)).toBe(reply);
    expect(parsePrimaryMessage({ nsup: 1, type: 'shutdown', timeoutMs: 5 })).toBeNull();
    expect(parsePrimaryMessage({ topic: 't', data: 1 })).toBeNull();
    expect(parsePrimaryMessage({ nsup: 1, type: 'deliver', topic: 't' })).toBeNull();
  });

  it('keeps the existing guards as they were', () => {
    expect(isInternal({ nsup: 1, type: 'shutdown', timeoutMs: 1 })).toBe(true);
    expect(isInternal({ nsup: 1 })).toBe(false);
    expect(isInternal({ cmd: 'NODE_CLUSTER' })).toBe(false);
    expect(isReadyMessage('ready')).toBe(true);
    expect(isReadyMessage({ nsup: 1, type: 'ready' })).toBe(true);
    expect(isReadyMessage({ nsup: 1, type: 'send' })).toBe(false);
  });
});

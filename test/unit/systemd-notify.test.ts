// Issue 6: READY/RELOADING/STOPPING/STATUS reach a real AF_UNIX datagram socket, in order, through
// systemd-notify. Node cannot bind one, so a few lines of python3 receive them and print each.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createNotifier, notifySocket, type ExecFileLike } from '../../src/systemd/notify.ts';

const tmp = mkdtempSync(join(tmpdir(), 'nsup-notify-'));
const receivers: ChildProcess[] = [];
afterAll(() => {
  for (const child of receivers) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

const RECEIVER = `
import json, socket, sys
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + address[1:] if address.startswith('@') else address)
print('ready', flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;
const receiverScript = join(tmp, 'receiver.py');
writeFileSync(receiverScript, RECEIVER);

const has = (command: string) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
const realSystemd = has('python3') && has('systemd-notify');
const MISSING = /systemd-notify was not found on PATH.*install systemd's systemd-notify, or run without Type=notify/;

describe.skipIf(!realSystemd)('through systemd-notify to a real datagram socket', () => {
  it('delivers every message, in call order, with the right lines', async () => {
    const socket = join(tmp, 'notify.sock');
    const received = await receiver(socket);
    const errors: string[] = [];
    const notifier = createNotifier({ PATH: process.env.PATH, NOTIFY_SOCKET: socket }, { onError: (message) => errors.push(message) });
    expect(notifier.enabled).toBe(true);
    const before = process.hrtime.bigint() / 1000n;
    // Not awaited one by one: the notifier itself must keep them in order.
    void notifier.ready('2/2 workers up');
    void notifier.reloading();
    void notifier.ready();
    void notifier.stopping();
    void notifier.status('x');
    await notifier.flush();
    const messages = await received.next(5);
    expect(errors).toEqual([]);
    const pid = `MAINPID=${process.pid}`;
    expect(messages[0]).toEqual([pid, 'READY=1', 'STATUS=2/2 workers up']);
    expect(messages[1]).toEqual([pid, 'RELOADING=1', expect.stringMatching(/^MONOTONIC_USEC=\d+$/)]);
    expect(messages.slice(2)).toEqual([[pid, 'READY=1'], [pid, 'STOPPING=1'], [pid, 'STATUS=x']]);
    // CLOCK_MONOTONIC in µs, taken when reloading() was called.
    const usec = BigInt(messages[1]![2]!.split('=')[1]!);
    expect(usec >= before && usec <= process.hrtime.bigint() / 1000n).toBe(true);
  });

  it('passes an abstract socket (@name) through, and keeps a status on one line', async () => {
    const socket = `@nsup-test-${process.pid}-${Date.now()}`;
    const received = await receiver(socket);
    const notifier = createNotifier({ PATH: process.env.PATH, NOTIFY_SOCKET: socket }, { pid: 4242 });
    await notifier.stopping('draining\nweb');
    expect(await received.next(1)).toEqual([['MAINPID=4242', 'STOPPING=1', 'STATUS=draining web']]);
  });

  it('reports a helper that hangs, once, and keeps going', async () => {
    const hang = join(tmp, 'hang.sh');
    writeFileSync(hang, '#!/bin/sh\nexec sleep 10\n');
    chmodSync(hang, 0o755);
    const onError = vi.fn();
    const notifier = createNotifier({ PATH: process.env.PATH, NOTIFY_SOCKET: join(tmp, 'nobody.sock') }, { command: hang, timeoutMs: 200, onError });
    const started = Date.now();
    await Promise.all([notifier.ready(), notifier.status('a')]);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatch(/hang\.sh READY=1 failed: no answer within 200 ms/);
    expect(notifier.enabled).toBe(true);
  });
});

describe('without systemd', () => {
  it('NOTIFY_SOCKET unset: every method is a no-op and nothing is spawned', async () => {
    const execFile = vi.fn<ExecFileLike>();
    const notifier = createNotifier({ PATH: process.env.PATH }, { execFile, onError: () => expect.fail('no error expected') });
    expect(notifier.enabled).toBe(false);
    await Promise.all([notifier.ready('up'), notifier.reloading(), notifier.stopping(), notifier.status('x'), notifier.flush()]);
    expect(execFile).not.toHaveBeenCalled();
    expect(notifySocket({})).toBeNull();
    expect(notifySocket({ NOTIFY_SOCKET: '' })).toBeNull();
    expect(notifySocket({ NOTIFY_SOCKET: '@abstract' })).toBe('@abstract');
    expect(notifySocket({ NOTIFY_SOCKET: '/run/systemd/notify' })).toBe('/run/systemd/notify');
  });

  it('systemd-notify not on PATH: onError once with the fix, then no-ops', async () => {
    const onError = vi.fn();
    const notifier = createNotifier({ PATH: join(tmp, 'empty-bin'), NOTIFY_SOCKET: join(tmp, 'x.sock') }, { onError });
    await notifier.ready('up');
    await notifier.status('still');
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatch(MISSING);
    expect(notifier.enabled).toBe(false);
  });

  it('a missing helper stops later sends without spawning again', async () => {
    const execFile = vi.fn<ExecFileLike>((_file, _args, _opts, callback) => callback(Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' }), '', ''));
    const onError = vi.fn();
    const notifier = createNotifier({ NOTIFY_SOCKET: '/x.sock' }, { execFile, onError });
    await Promise.all([notifier.ready(), notifier.stopping(), notifier.status('x')]);
    expect(execFile).toHaveBeenCalledTimes(1);
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it('a failing helper is reported once, never thrown, and later messages still go out in order', async () => {
    const calls: string[][] = [];
    const execFile = vi.fn<ExecFileLike>((_file, args, _opts, callback) => {
      calls.push(args);
      setTimeout(() => callback(Object.assign(new Error('Command failed'), { code: 1 }), '', 'Failed to notify init system: Connection refused\n'), 5);
    });
    const onError = vi.fn();
    const notifier = createNotifier({ NOTIFY_SOCKET: '/x.sock' }, { execFile, onError, pid: 7 });
    await Promise.all([notifier.ready(), notifier.stopping('bye')]);
    expect(calls).toEqual([['--pid=7', 'READY=1'], ['--pid=7', 'STOPPING=1', 'STATUS=bye']]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatch(/systemd-notify READY=1 failed: Failed to notify init system: Connection refused/);
  });
});

// Start the python receiver on `address`; next(n) resolves with the next n datagrams as lines,
// skipping the BARRIER=1 datagrams systemd-notify sends to wait for the manager.
async function receiver(address: string): Promise<{ next(count: number): Promise<string[][]> }> {
  const child = spawn('python3', [receiverScript, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  receivers.push(child);
  const queue: string[][] = [];
  let wake = () => {};
  let ready!: () => void;
  const bound = new Promise<void>((resolve) => (ready = resolve));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') return ready();
    const text = JSON.parse(line) as string;
    if (text !== 'BARRIER=1') queue.push(text.split('\n'));
    wake();
  });
  await within(bound, 10_000, 'the python receiver to bind');
  return {
    next: (count) =>
      within(
        new Promise((resolve) => {
          const check = () => (queue.length >= count ? resolve(queue.splice(0, count)) : (wake = check));
          check();
        }),
        10_000,
        `${count} datagrams`,
      ),
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

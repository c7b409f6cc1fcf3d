// `nsup logs` against a fake supervisor on a real control socket, where the order of events is
// ours to choose: -f prints a record once when it was both read from the file and followed, the
// follow keeps the filters, and the supervisor's memory is read when it writes no file (or is too
// old to tell its files).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runLogs } from '../../src/cli/run-logs.ts';
import { encodeFrame, FrameDecoder } from '../../src/control/protocol.ts';
import { formatRecord, type LogRecord } from '../../src/log/record.ts';

type Handler = (args: Record<string, unknown>, stream: (line: string) => void) => unknown;

let dir: string;
let server: net.Server;
let printed: string[];
const savedHome = process.env.NSUP_HOME;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-run-logs-'));
  chmodSync(dir, 0o700);
  process.env.NSUP_HOME = dir;
  printed = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(...String(chunk).split('\n').filter((l) => l !== ''));
    return true;
  });
});

afterEach(async () => {
  vi.restoreAllMocks();
  process.env.NSUP_HOME = savedHome;
  if (savedHome === undefined) delete process.env.NSUP_HOME;
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** A supervisor answering `status` with app 'web' and the given handlers for the rest. */
async function fakeSupervisor(handlers: Record<string, Handler>): Promise<string[]> {
  const asked: string[] = [];
  server = net.createServer((socket) => {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      for (const item of decoder.push(chunk)) {
        const { id, cmd, args } = (item as { value: { id: number; cmd: string; args: Record<string, unknown> } }).value;
        asked.push(cmd);
        const reply = (value: unknown) => socket.write(encodeFrame({ v: 1, id, ...(value as object) }));
        const handler = cmd === 'status' ? () => ({ pid: 4242, apps: [{ name: 'web' }] }) : handlers[cmd];
        if (!handler) {
          reply({ ok: false, error: { code: 'NSUP_ERR_CONTROL_UNKNOWN_COMMAND', message: `unknown command '${cmd}'` } });
          continue;
        }
        reply({ ok: true, result: handler(args, (line) => reply({ stream: 'line', line })) });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(join(dir, '4242.sock'), resolve));
  return asked;
}

const T = Date.now();
const rec = (i: number, stream: 'out' | 'err' = 'out'): LogRecord => ({ time: T - 500 + i, app: 'web', stream, worker: 0, pid: 7, gen: 1, msg: `line ${i}` });
const text = (r: LogRecord) => formatRecord(r, { format: 'text', time: 'iso', priority: false });

describe('runLogs against a fake supervisor', () => {
  it('-f: a record read from the file and also followed is printed once; the follow keeps the filters', async () => {
    const log = join(dir, 'web.log');
    writeFileSync(log, [1, 2, 3, 4, 5].map((i) => text(rec(i))).join('\n') + '\n');
    // The follow began before the file was read: it got 4 and 5 (in the file too), then 6, and an
    // err line that --stream out leaves out. Then the supervisor stopped.
    const asked = await fakeSupervisor({
      'logs-files': () => ({ app: 'web', files: [{ path: log, streams: ['out', 'err', 'nsup'] }] }),
      logs: (args, stream) => {
        expect(args).toEqual({ app: 'web', lines: 0, follow: true });
        for (const r of [rec(4), rec(5), rec(6), rec(7, 'err')]) stream(JSON.stringify(r));
        return { app: 'web' };
      },
    });
    expect(await runLogs({ name: 'web', follow: true, lines: '3', stream: 'out' })).toBe(0);
    expect(printed).toEqual([3, 4, 5, 6].map((i) => text(rec(i))));
    expect(asked).toEqual(['status', 'logs', 'logs-files']);
  });

  it("reads the supervisor's memory when it writes no file (/dev/null is none), or does not know logs-files", async () => {
    const memory = [rec(1), rec(2, 'err'), { ...rec(3), time: null }, rec(4)].map((r) => JSON.stringify(r));
    const asked = await fakeSupervisor({
      'logs-files': () => ({ app: 'web', files: [{ path: '/dev/null', streams: ['err'] }] }),
      logs: (args, stream) => {
        expect(args).toEqual({ app: 'web', lines: -1, follow: false });
        memory.forEach(stream);
        return { app: 'web' };
      },
    });
    expect(await runLogs({ name: 'web', worker: '0', stream: 'out', json: true })).toBe(0);
    expect(printed.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['line 1', 'line 3', 'line 4']);
    expect(asked).toEqual(['status', 'logs-files', 'logs']);

    printed.length = 0;
    await new Promise((resolve) => server.close(resolve));
    await fakeSupervisor({ logs: (_args, stream) => (memory.forEach(stream), { app: 'web' }) });
    expect(await runLogs({ name: 'web', since: '1h', grep: '^line [12]$' })).toBe(0);
    expect(printed).toEqual([text(rec(1)), text(rec(2, 'err'))]);
  });
});

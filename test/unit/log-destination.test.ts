// The primary's own output cannot kill or hang it: stdout piped into `head` (EPIPE), a full disk
// under stdout or a log file (ENOSPC), a log file that cannot be opened. Real processes, real
// pipes and /dev/full (which fails every write with ENOSPC).
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogFiles } from '../../src/log/log-files.ts';
import { describeWriteError } from '../../src/log/logger.ts';
import { safeDestination } from '../../src/log/safe-destination.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/logging/write-lines.ts');
const hasDevFull = existsSync('/dev/full');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-logdest-'));
  dirs.push(dir);
  return dir;
};

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** The JSON lines on stderr: what the primary reported about its own output. */
  reports: Array<Record<string, unknown>>;
}

// Runs the fixture; a child still alive after `timeoutMs` is killed and shows as signal SIGKILL.
function run(args: string[], stdio: StdioOptions, setup: (child: ReturnType<typeof spawn>) => void = () => {}, timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, ...args], { stdio });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const reports = stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, signal, stderr, reports });
    });
    setup(child);
  });
}

// The reader of the child's stdout reads one chunk and goes away, like `head -c 100`.
const readOnceThenClose = (child: ReturnType<typeof spawn>) => child.stdout!.once('data', () => child.stdout!.destroy());

describe('stdout whose reader went away (EPIPE)', () => {
  it('keeps logging and exits 0 instead of dying on an uncaught EPIPE', async () => {
    const result = await run(['flood'], ['ignore', 'pipe', 'pipe'], readOnceThenClose);
    expect(result.stderr).not.toMatch(/EPIPE|Error/);
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stderr).toContain('survived');
    // Quietly: a closed pipe is not an error worth a line.
    expect(result.reports).toEqual([]);
  });

  it('a shutdown flush right after the reader left does not hang (sonic-boom flushSync retries forever)', async () => {
    const result = await run(['exit-flush'], ['pipe', 'pipe', 'pipe'], (child) => {
      child.stdout!.once('data', () => {
        child.stdout!.destroy();
        setTimeout(() => child.stdin!.write('stop\n'), 100);
      });
    });
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stderr).toContain('survived');
  });
});

describe.skipIf(!hasDevFull)('a full disk (/dev/full)', () => {
  it('under stdout: reported once on stderr as log.write-error, and the process keeps going', async () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const result = await run(['flood'], ['ignore', fd, 'pipe']);
      expect(result).toMatchObject({ code: 0, signal: null });
      expect(result.stderr).toContain('survived');
      expect(result.reports).toHaveLength(1);
      expect(result.reports[0]).toMatchObject({ level: 'error', event: 'log.write-error', target: 'stdout', code: 'ENOSPC' });
      expect(result.reports[0]!.msg).toMatch(/^cannot write stdout: the disk is full \(ENOSPC\); nsup and the apps keep running.*Free space on that filesystem\.$/);
    } finally {
      closeSync(fd);
    }
  });

  it('under a daemon log file: reported once on stderr and into the app\'s recent lines', async () => {
    const dir = tmp();
    const path = join(dir, 'web.log');
    symlinkSync('/dev/full', path);
    const result = await run(['daemon', dir], ['ignore', 'ignore', 'pipe']);
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.reports).toHaveLength(1);
    expect(result.reports[0]).toMatchObject({ event: 'log.write-error', app: 'web', target: path, code: 'ENOSPC' });
    expect(result.reports[0]!.msg).toMatch(new RegExp(`^cannot write ${path}: the disk is full.*Free space on that filesystem \\(or cap the files with logRotate, --log-max-size\\)\\.$`));
    const recent = JSON.parse(/recent: (.*)/.exec(result.stderr)![1]!) as string[];
    expect(recent).toEqual([expect.stringContaining(`cannot write ${path}: the disk is full`)]);
  });

  it('safeDestination: onError once per failure spell, and flushSync returns instead of retrying forever', async () => {
    const errors: NodeJS.ErrnoException[] = [];
    const { dest, state, write } = safeDestination({ dest: '/dev/full', sync: false, minLength: 0 }, { onError: (error) => errors.push(error) });
    await new Promise((resolve) => dest.once('ready', resolve));
    write('one\n');
    await new Promise((resolve) => dest.once('error', resolve));
    for (let i = 0; i < 50; i++) write(`line ${i}\n`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(state()).toBe('failing');
    expect(errors.map((e) => e.code)).toEqual(['ENOSPC']);
    const started = Date.now();
    expect(() => dest.flushSync()).not.toThrow();
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('safeDestination on a healthy file', () => {
  it('flushSync right after a burst writes every line exactly once (the sonic-boom fields it relies on)', async () => {
    const path = join(tmp(), 'out.log');
    const { dest, state, write } = safeDestination({ dest: path, sync: false, minLength: 0 });
    await new Promise((resolve) => dest.once('ready', resolve));
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'y'.repeat(100)}`);
    for (const line of lines) write(line + '\n');
    dest.flushSync();
    // An async write may still be in flight (sonic-boom's flushSync leaves it too): let it land.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const written = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    expect(written).toHaveLength(lines.length);
    expect(new Set(written)).toEqual(new Set(lines));
    expect(state()).toBe('ok');
  });
});

describe('LogFiles', () => {
  it('a file that cannot be opened is reported, and reopen (SIGUSR2) neither throws nor gives up', async () => {
    const notADir = join(tmp(), 'file');
    writeFileSync(notADir, '');
    const reported: Array<[string, string, string | undefined]> = [];
    let onReport = () => {};
    const files = new LogFiles((app, path, error) => {
      reported.push([app, path, error.code]);
      onReport();
    });
    // Each failed open is reported (bounded wait): the test must not end while one is in flight,
    // or its retry would create the folder again after afterEach removed it.
    const reports = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${reported.length} of ${n} open failures reported within 5 s`)), 5000);
        onReport = () => {
          if (reported.length >= n) resolve(clearTimeout(timer));
        };
        onReport();
      });
    files.configure('web', { out: join(notADir, 'web.log'), err: join(notADir, 'web.log'), rotate: null });
    files.write('web', 'out', 'a line');
    await reports(1);
    expect(reported[0]).toEqual(['web', join(notADir, 'web.log'), expect.stringMatching(/^(ENOTDIR|EEXIST)$/)]);
    expect(() => files.reopen()).not.toThrow();
    expect(() => files.flushSync()).not.toThrow();
    files.write('web', 'out', 'another line');
    // The reopen reported the file that never opened (2), and the fresh one's open fails too (3).
    await reports(3);
  });
});

describe('describeWriteError', () => {
  const err = (code: string, message = `${code}: failed, write`) => Object.assign(new Error(message), { code });
  it.each([
    ['ENOSPC', 'stdout', /the disk is full \(ENOSPC\).*Free space on that filesystem\.$/],
    ['EDQUOT', '/run/nsup/web.log', /the disk is full \(EDQUOT\).*--log-max-size/],
    ['EACCES', '/run/nsup/web.log', /Make \/run\/nsup\/web\.log writable by uid \d+, then send SIGUSR2 to reopen it\.$/],
    ['EIO', 'stdout', /EIO: failed, write.*Check the device or whatever reads nsup's output\.$/],
  ])('%s on %s names what failed and the fix', (code, target, pattern) => {
    const line = describeWriteError(target, err(code));
    expect(line.startsWith(`cannot write ${target}: `)).toBe(true);
    expect(line).toMatch(/nsup and the apps keep running/);
    expect(line).toMatch(pattern);
  });
});

// A watcher error (ENOSPC from the inotify limit, EACCES, a symlink loop) is logged and the
// watcher keeps going: chokidar's 'error' never reaches the primary as an uncaught exception.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedApp } from '../../src/config/define.ts';
import { describeWatchError, watchApp, type AppWatcher } from '../../src/watch/watcher.ts';

const dirs: string[] = [];
const watchers: AppWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function captureLogger() {
  const events: Array<Record<string, unknown>> = [];
  const logger = pino({ base: undefined }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, events };
}

function app(paths: string[]): ResolvedApp {
  return { name: 'web', watch: { paths, ignore: [], debounceMs: 20 } } as unknown as ResolvedApp;
}

// Wired the way the supervisor wires it: one watch.error event per error, message from describeWatchError.
function start(root: string, onChange: (paths: string[]) => void = () => {}) {
  const { logger, events } = captureLogger();
  const errors: Error[] = [];
  const watcher = watchApp(app([root]), onChange, (error) => {
    errors.push(error);
    logger.warn({ event: 'watch.error', app: 'web', code: (error as NodeJS.ErrnoException).code }, describeWatchError('web', error));
  })!;
  watchers.push(watcher);
  return { watcher, errors, events };
}

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-watch-err-'));
  dirs.push(dir);
  return dir;
}

const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('watchApp errors', () => {
  it('a real error (a symlink loop in the tree) reaches onError, is logged, and changes still reload', async () => {
    const root = tmp();
    mkdirSync(join(root, 'src'));
    symlinkSync('loop', join(root, 'loop'));
    const changes: string[][] = [];
    const { watcher, errors, events } = start(root, (paths) => changes.push(paths));
    await watcher.ready;
    await until(() => errors.length > 0);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ELOOP');
    const event = events.find((e) => e.event === 'watch.error')!;
    expect(event).toMatchObject({ event: 'watch.error', app: 'web', code: 'ELOOP' });
    expect(event.msg).toContain(join(root, 'loop'));
    expect(event.msg).toMatch(/remove the loop, or add it to watch\.ignore/i);
    expect(event.msg).toMatch(/workers keep serving/);

    // Degraded, not dead: the rest of the tree is still watched.
    writeFileSync(join(root, 'src', 'index.js'), 'x');
    await until(() => changes.length > 0);
    expect(changes.flat()).toContain(join(root, 'src', 'index.js'));
  });

  it('an inotify limit error (ENOSPC) on the FSWatcher is logged with the sysctl fix, and nothing throws', async () => {
    const { watcher, events } = start(tmp());
    await watcher.ready;
    const enospc = Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), { code: 'ENOSPC', syscall: 'watch', path: '/srv/app/src' });
    expect(() => watcher.fsWatcher.emit('error', enospc)).not.toThrow();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'watch.error', code: 'ENOSPC' });
    expect(events[0]!.msg).toMatch(/fs\.inotify\.max_user_watches/);
    expect(events[0]!.msg).toMatch(/sysctl fs\.inotify\.max_user_watches=\d+/);
  });

  it('without onError, an error is still contained', async () => {
    const watcher = watchApp(app([tmp()]), () => {})!;
    watchers.push(watcher);
    await watcher.ready;
    expect(() => watcher.fsWatcher.emit('error', Object.assign(new Error('EACCES'), { code: 'EACCES' }))).not.toThrow();
  });
});

describe('describeWatchError', () => {
  const err = (code: string, path?: string) => Object.assign(new Error(`${code}: failed`), { code, ...(path ? { path } : {}) });
  const cases: Array<[string, NodeJS.ErrnoException, RegExp[]]> = [
    ['ENOSPC', err('ENOSPC'), [/inotify watch limit/, /fs\.inotify\.max_user_watches/, /sysctl/, /watch\.paths/, /watch\.ignore/]],
    ['EACCES with a path', err('EACCES', '/srv/app/secret'), [/no permission to read \/srv\/app\/secret/, /read access/, /watch\.ignore/]],
    ['EPERM without a path', err('EPERM'), [/no permission to read a watched path \(EPERM\)/]],
    ['EMFILE', err('EMFILE'), [/too many open files/, /ulimit -n/, /LimitNOFILE/]],
    ['ELOOP', err('ELOOP', '/srv/app/loop'), [/symlink loop at \/srv\/app\/loop/]],
    ['anything else', err('EIO', '/srv/app/x'), [/file watcher error EIO \(\/srv\/app\/x\): EIO: failed/, /watch\.paths/]],
  ];
  it.each(cases)('%s: names what failed and the fix, on one line', (_name, error, patterns) => {
    const line = describeWatchError('web', error);
    expect(line.startsWith('web: ')).toBe(true);
    expect(line).not.toContain('\n');
    for (const pattern of patterns) expect(line).toMatch(pattern);
    expect(line).toMatch(/its workers keep serving, but file changes may not trigger a reload until this is fixed/);
  });
});

// Runtime directory: where it is, that it is private, and the paths computed inside it.
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureRuntimeDir, listSocketFiles, logPath, runtimeDir, socketPath } from '../../src/control/runtime-dir.ts';
import { RuntimeDirError } from '../../src/errors.ts';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nsup-rd-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('runtimeDir', () => {
  it('prefers NSUP_HOME, then XDG_RUNTIME_DIR/nsup, then ~/.nsup', () => {
    expect(runtimeDir({ NSUP_HOME: '/a/home', XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/a/home');
    expect(runtimeDir({ XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/run/user/1/nsup');
    expect(runtimeDir({})).toBe(join(homedir(), '.nsup'));
  });

  it('treats empty variables as unset and ignores a relative XDG_RUNTIME_DIR', () => {
    expect(runtimeDir({ NSUP_HOME: '', XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/run/user/1/nsup');
    expect(runtimeDir({ XDG_RUNTIME_DIR: 'relative/dir' })).toBe(join(homedir(), '.nsup'));
  });
});

describe('ensureRuntimeDir', () => {
  it('creates the directory (and missing parents) with mode 0700', () => {
    const dir = join(tmp, 'a', 'nsup');
    expect(ensureRuntimeDir({ NSUP_HOME: dir })).toBe(dir);
    expect(mode(dir)).toBe(0o700);
    expect(ensureRuntimeDir({ NSUP_HOME: dir })).toBe(dir);
  });

  it('tightens an existing 0755 directory to 0700', () => {
    const dir = join(tmp, 'open');
    mkdirSync(dir, { mode: 0o755 });
    expect(mode(dir)).toBe(0o755);
    ensureRuntimeDir({ NSUP_HOME: dir });
    expect(mode(dir)).toBe(0o700);
  });

  it('refuses a symlink, even to a private directory', () => {
    const target = join(tmp, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = join(tmp, 'link');
    symlinkSync(target, link);
    expect(() => ensureRuntimeDir({ NSUP_HOME: link })).toThrow(RuntimeDirError);
    expect(() => ensureRuntimeDir({ NSUP_HOME: link })).toThrow(/is a symlink; nsup refuses .* set NSUP_HOME/);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a directory owned by another user', () => {
    const dir = join(tmp, 'theirs');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    expect(() => ensureRuntimeDir({ NSUP_HOME: dir })).toThrow(/owned by uid 65534, not by you \(uid 0\)/);
  });

  it('refuses a regular file', () => {
    const file = join(tmp, 'file');
    writeFileSync(file, '');
    expect(() => ensureRuntimeDir({ NSUP_HOME: file })).toThrow(RuntimeDirError);
    expect(() => ensureRuntimeDir({ NSUP_HOME: file })).toThrow(/is a regular file, not a directory/);
  });

  it('wraps a failure to create the directory', () => {
    const file = join(tmp, 'file');
    writeFileSync(file, '');
    const error = catchError(() => ensureRuntimeDir({ NSUP_HOME: join(file, 'nsup') }));
    expect(error).toBeInstanceOf(RuntimeDirError);
    expect((error as RuntimeDirError).code).toBe('NSUP_ERR_RUNTIME_DIR');
    expect((error as RuntimeDirError).cause).toBeDefined();
  });
});

describe('socketPath / logPath', () => {
  it('names sockets <dir>/<pid>.sock and logs <dir>/<app>.log', () => {
    expect(socketPath('/run/nsup', 1234)).toBe('/run/nsup/1234.sock');
    expect(logPath('/run/nsup', 'web')).toBe('/run/nsup/web.log');
  });

  it('refuses a socket path longer than 100 bytes and suggests a shorter NSUP_HOME', () => {
    const dir = `/${'d'.repeat(90)}`;
    expect(socketPath(dir, 1)).toHaveLength(98);
    expect(() => socketPath(dir, 4194304)).toThrow(RuntimeDirError);
    expect(() => socketPath(dir, 4194304)).toThrow(/is 104 bytes.*shorter than 108.*NSUP_HOME/);
  });

  it('refuses an app name that would escape the directory', () => {
    expect(() => logPath('/run/nsup', '../x')).toThrow(RuntimeDirError);
    expect(() => logPath('/run/nsup', '..')).toThrow(RuntimeDirError);
  });
});

describe('listSocketFiles', () => {
  it('lists only <pid>.sock files, sorted by pid', () => {
    for (const name of ['300.sock', '20.sock', '1000.sock', 'web.log', 'x.sock', '12.sock.bak', '0.sock', '7.socket']) {
      writeFileSync(join(tmp, name), '');
    }
    expect(listSocketFiles(tmp)).toEqual([
      { pid: 20, path: join(tmp, '20.sock') },
      { pid: 300, path: join(tmp, '300.sock') },
      { pid: 1000, path: join(tmp, '1000.sock') },
    ]);
  });

  it('returns [] for a missing directory', () => {
    expect(listSocketFiles(join(tmp, 'missing'))).toEqual([]);
  });
});

// --- helpers ---

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

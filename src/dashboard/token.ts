// The dashboard's action token: a random secret in <runtime dir>/dashboard.token (mode 0600, in
// the 0700 runtime dir), so that only someone who can read the user's files can reload or scale
// from the browser. Supervisors sharing a runtime dir share the file (the first one creates it);
// deleting it and restarting nsup rotates it. The token itself is never logged.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { RuntimeDirError } from '../errors.ts';

const { constants, closeSync, fstatSync, openSync, readFileSync, writeSync } = process.getBuiltinModule('node:fs');
const { join } = process.getBuiltinModule('node:path');

/** The file name of the token inside the runtime dir. */
export const TOKEN_FILE = 'dashboard.token';
const TOKEN_RE = /^[0-9a-f]{64}$/;

/** Read the runtime dir's token, or create it (0600, 32 random bytes as hex); returns the token. */
export function ensureToken(dir: string): string {
  const path = join(dir, TOKEN_FILE);
  try {
    // O_EXCL: never follow or overwrite what is there; O_NOFOLLOW: a symlink planted there is refused.
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const token = randomBytes(32).toString('hex');
    try {
      writeSync(fd, `${token}\n`);
    } finally {
      closeSync(fd);
    }
    return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw tokenError(path, (error as Error).message, error);
  }
  return readToken(path);
}

/** True when an Authorization header carries this token as `Bearer <token>` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

// An existing token file must be a regular file of ours that nobody else can read, holding a token.
function readToken(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw tokenError(path, (error as Error).message, error);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw tokenError(path, 'it is not a regular file');
    if (typeof process.getuid === 'function' && stats.uid !== process.getuid()) throw tokenError(path, `it belongs to uid ${stats.uid}, not to you`);
    if ((stats.mode & 0o077) !== 0) throw tokenError(path, `its mode is ${(stats.mode & 0o777).toString(8)}, readable by others`);
    const token = readFileSync(fd, 'utf8').trim();
    if (!TOKEN_RE.test(token)) throw tokenError(path, 'it does not hold a token (64 hex digits)');
    return token;
  } finally {
    closeSync(fd);
  }
}

function tokenError(path: string, why: string, cause?: unknown): RuntimeDirError {
  return new RuntimeDirError(`cannot use the dashboard token file ${path}: ${why}. Remove it (nsup creates a new one, mode 0600, at the next start), or turn metrics.dashboard off.`, cause === undefined ? undefined : { cause });
}

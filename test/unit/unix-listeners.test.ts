// Telling a live unix socket from a stale one (src/worker/unix-listeners.ts, unix-sockets.ts).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isKeptSocket } from '../../src/worker/unix-sockets.ts';
import { isInUse, matchesName, parseSockets } from '../../src/worker/unix-listeners.ts';

const TABLE = [
  'Num       RefCount Protocol Flags    Type St Inode Path',
  // listening, absolute
  '0000000000000000: 00000002 00000000 00010000 0001 01 1001 /run/app.sock',
  // connected (St 03): not a listener
  '0000000000000000: 00000003 00000000 00000000 0001 03 1002 /run/app.sock',
  // bound, not listening (Flags 0)
  '0000000000000000: 00000002 00000000 00000000 0001 01 1003 /run/bound-only.sock',
  // abstract
  '0000000000000000: 00000002 00000000 00010000 0001 01 1004 @/tmp/.X11-unix/X0',
  // relative to its binder's cwd, and a path with a space
  '0000000000000000: 00000002 00000000 00010000 0001 01 1005 srv/web.sock',
  '0000000000000000: 00000002 00000000 00010000 0001 01 1006 /srv/my app/x.sock',
  // unnamed
  '0000000000000000: 00000003 00000000 00000000 0001 03 1007',
  '',
].join('\n');

describe('/proc/net/unix', () => {
  it('parseSockets keeps named sockets, listening or not, without abstract ones', () => {
    expect(parseSockets(TABLE)).toEqual([
      { path: '/run/app.sock', listening: true },
      { path: '/run/app.sock', listening: false },
      { path: '/run/bound-only.sock', listening: false },
      { path: 'srv/web.sock', listening: true },
      { path: '/srv/my app/x.sock', listening: true },
    ]);
  });

  it('matchesName resolves relative names against the cwds given, or as a plain suffix', () => {
    const names = parseSockets(TABLE).filter((s) => s.listening).map((s) => s.path);
    expect(matchesName('/run/app.sock', names, [])).toBe(true);
    expect(matchesName('/run/bound-only.sock', names, [])).toBe(false);
    expect(matchesName('/home/a/srv/web.sock', names, ['/home/a'])).toBe(true);
    expect(matchesName('/elsewhere/srv/web.sock', names, ['/home/a'])).toBe(true);
    expect(matchesName('/home/a/web.sock', names, ['/home/a'])).toBe(false);
    expect(matchesName('/srv/my app/x.sock', names, [])).toBe(true);
    expect(matchesName('/home/a/x/../b.sock', ['../b.sock'], ['/home/a/x/y'])).toBe(false);
    expect(matchesName('/home/a/x/b.sock', ['../b.sock'], ['/home/a/x/y'])).toBe(true);
  });
});

describe('live and stale sockets (real files)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-sock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a socket this process listens on is in use, and a worker keeps it; once closed it is not in use', async () => {
    const path = join(dir, 'live.sock');
    const server = net.createServer().listen(path);
    await once(server, 'listening');
    expect(isInUse(path)).toBe(true);
    expect(isKeptSocket(path)).toBe(true);
    expect(isKeptSocket(new URL(`file://${path}`))).toBe(true);
    expect(isKeptSocket(Buffer.from(path))).toBe(true);
    server.close();
    await once(server, 'close');
    expect(isInUse(path)).toBe(false);
  });

  // Node cannot bind a unix socket without listening; python3 can (skipped where it is missing).
  const hasPython = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!hasPython)('a socket that is bound but not listening yet is in use (the primary binds, then listens)', async () => {
    const path = join(dir, 'bound.sock');
    // python binds and never listens: the moment between the primary's bind() and listen(), held still.
    const child = spawn('python3', ['-c', `import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)}); print('bound', flush=True); sys.stdin.read()`], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await once(child.stdout, 'data');
      expect(isInUse(path)).toBe(true);
      expect(isKeptSocket(path)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    // Its process is gone: only a stale file is left, not in use; a worker still leaves it to the primary.
    expect(isInUse(path)).toBe(false);
    expect(isKeptSocket(path)).toBe(true);
  });

  it('a regular file, a missing path and a non-path are never kept', () => {
    const file = join(dir, 'plain.sock');
    writeFileSync(file, '');
    expect(isKeptSocket(file)).toBe(false);
    expect(isKeptSocket(join(dir, 'missing.sock'))).toBe(false);
    expect(isKeptSocket(42)).toBe(false);
  });

  it('in a cluster worker: removals of a live socket succeed without removing it; a missing path fails as it would', () => {
    const live = join(dir, 'shared.sock');
    const missingPath = join(dir, 'missing.sock');
    const script = join(dir, 'worker-unlink.mjs');
    writeFileSync(
      script,
      [
        "import cluster from 'node:cluster';",
        "import fs, { unlinkSync } from 'node:fs';",
        "import net from 'node:net';",
        'if (cluster.isPrimary) {',
        `  const server = net.createServer().listen(${JSON.stringify(live)}, () => {`,
        "    cluster.setupPrimary({ stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });",
        "    cluster.fork({ NSUP_APP: 'test' }).on('exit', (code) => { server.close(); process.exitCode = code; });",
        '  });',
        '} else {',
        `  await import(${JSON.stringify(new URL('../../src/worker/unix-sockets.ts', import.meta.url).href)});`,
        "  const { unlinkSync: named } = await import('node:fs');",
        '  const results = {};',
        `  const live = ${JSON.stringify(live)}, missing = ${JSON.stringify(missingPath)};`,
        '  const code = (fn) => { try { fn(); return "ok"; } catch (e) { return `${e.code} ${e.syscall} ${e.message}`; } };',
        '  results.unlinkSync = code(() => fs.unlinkSync(live));',
        '  results.named = code(() => named(live));',
        '  results.rmSync = code(() => fs.rmSync(live, { force: true }));',
        "  results.promises = await fs.promises.unlink(live).then(() => 'ok');",
        "  results.promisesRm = await fs.promises.rm(live).then(() => 'ok');",
        "  results.callback = await new Promise((r) => fs.unlink(live, (e) => r(e ? e.code : 'ok')));",
        "  results.rmCallback = await new Promise((r) => fs.rm(live, { force: true }, (e) => r(e ? e.code : 'ok')));",
        '  results.stillThere = fs.lstatSync(live).isSocket();',
        '  results.missingUnlink = code(() => fs.unlinkSync(missing));',
        '  results.missingRm = code(() => fs.rmSync(missing));',
        '  results.missingRmForce = code(() => fs.rmSync(missing, { force: true }));',
        "  results.missingPromise = await fs.promises.unlink(missing).then(() => 'ok', (e) => e.code);",
        "  results.missingCallback = await new Promise((r) => fs.unlink(missing, (e) => r(e ? e.code : 'ok')));",
        "  results.badArg = code(() => fs.unlinkSync(42));",
        '  console.log(JSON.stringify(results));',
        '  process.exit(0);',
        '}',
        '',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      unlinkSync: 'ok',
      named: 'ok',
      rmSync: 'ok',
      promises: 'ok',
      promisesRm: 'ok',
      callback: 'ok',
      rmCallback: 'ok',
      stillThere: true,
      missingUnlink: `ENOENT unlink ENOENT: no such file or directory, unlink '${missingPath}'`,
      missingRm: `ENOENT lstat ENOENT: no such file or directory, lstat '${missingPath}'`,
      missingRmForce: 'ok',
      missingPromise: 'ENOENT',
      missingCallback: 'ENOENT',
      badArg: expect.stringMatching(/^ERR_INVALID_ARG_TYPE/),
    });
  });
});

// explainExit against REAL stderr: each case runs a tiny script under this Node and feeds the
// last stderr lines to explainExit, as the supervisor does with a worker's stderr tail.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STDERR_TAIL } from '../../src/log/worker-output.ts';
import { explainExit } from '../../src/supervisor/explain-exit.ts';

let dir: string;
let server: Server;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-explain-'));
  // The port a child will fail to listen on: held by this process on all interfaces.
  server = createServer();
  server.listen(0);
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  server.close();
  await once(server, 'close');
});

interface Run {
  code: number | null;
  signal: string | null;
  /** All stderr lines, split like readline does (no trailing empty line). */
  lines: string[];
}

/** Writes `source` to <dir>/<name> and runs it with this Node. */
function runScript(name: string, source: string): Run {
  const file = join(dir, name);
  writeFileSync(file, source);
  const result = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  if (result.error) throw result.error;
  const lines = result.stderr.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return { code: result.status, signal: result.signal, lines };
}

/** explainExit as the supervisor calls it: with the last STDERR_TAIL lines (what worker-output keeps). */
function explainTail(run: Run): string {
  return explainExit({ code: run.code, signal: run.signal, stderr: run.lines.slice(-STDERR_TAIL) });
}

describe('explainExit with real Node stderr', () => {
  const matrix: Array<{
    name: string;
    file: string;
    source: () => string;
    /** Other files the script needs, by name. */
    files?: Record<string, string>;
    code?: number | null;
    signal?: string | null;
    contains: (file: string) => string[];
    not?: string[];
  }> = [
    {
      name: 'CommonJS syntax error',
      file: 'syntax.cjs',
      source: () => '// line 1\nconst x = ;\n',
      code: 1,
      contains: (file) => ['syntax error', `${file}:2`, "Unexpected token ';'"],
    },
    {
      name: 'ESM syntax error',
      file: 'syntax.mjs',
      source: () => "import 'node:fs';\n\nconst x = ;\n",
      code: 1,
      // Node names the file as a file:// URL here; the reason shows the path.
      contains: (file) => ['syntax error', `${file}:3`, "Unexpected token ';'"],
      not: ['file://'],
    },
    {
      name: 'CommonJS require of a missing package',
      file: 'missing-pkg.cjs',
      source: () => "require('nsup-no-such-package');\n",
      code: 1,
      contains: () => ["cannot find module 'nsup-no-such-package'", 'npm install'],
    },
    {
      name: 'ESM import of a missing package',
      file: 'missing-pkg.mjs',
      source: () => "import 'nsup-no-such-package';\n",
      code: 1,
      contains: (file) => ["cannot find package 'nsup-no-such-package'", `imported from ${file}`, 'npm install'],
    },
    {
      name: 'ESM import of a missing scoped package',
      file: 'missing-scoped.mjs',
      source: () => "import '@nsup-no-such-scope/pkg/sub';\n",
      code: 1,
      contains: () => ["cannot find package '@nsup-no-such-scope/pkg'", 'npm install'],
    },
    {
      // Node adds "Did you mean to import "./util.js"?" when the file exists with that extension.
      name: 'extensionless relative ESM import of a JavaScript file (issue 11)',
      file: 'ext-js.mjs',
      files: { 'util.js': 'export const u = 1;\n' },
      source: () => "import { u } from './util';\nconsole.log(u);\n",
      code: 1,
      contains: (file) => [`cannot find module '${join(dir, 'util')}'`, `imported from ${file}`, "add the file extension: import './util.js'"],
      not: ['npm install'],
    },
    {
      name: 'extensionless relative ESM import of a file in a subfolder',
      file: 'ext-sub.mjs',
      files: { 'lib/helper.js': 'export const h = 1;\n' },
      source: () => "import { h } from './lib/helper';\nconsole.log(h);\n",
      code: 1,
      contains: () => ["import './lib/helper.js'"],
      not: ['npm install'],
    },
    {
      // From a .ts file Node gives no hint even when helper.ts exists.
      name: 'extensionless relative import in a TypeScript app (issue 11)',
      file: 'ext-ts.ts',
      files: { 'helper.ts': 'export const v: number = 1;\n' },
      source: () => "import { v } from './helper';\nconsole.log(v);\n",
      code: 1,
      contains: () => ["'./helper.ts'", "'./helper.js' for a JavaScript file", 'need the file extension'],
      not: ['npm install'],
    },
    {
      name: 'ESM import of a directory',
      file: 'dir-import.mjs',
      files: { 'somedir/index.js': 'export {};\n' },
      source: () => "import './somedir';\n",
      code: 1,
      contains: () => [`cannot import directory '${join(dir, 'somedir')}'`, "import './somedir/index.js'"],
    },
    {
      name: 'CommonJS require of a missing relative file',
      file: 'missing-rel.cjs',
      source: () => "require('./nope');\n",
      code: 1,
      contains: () => ["cannot find module './nope'", 'check the path'],
      not: ['npm install'],
    },
    {
      // Type stripping: V8 stops at the '@' ("Invalid or unexpected token").
      name: 'a TypeScript class decorator under type stripping (issue 11)',
      file: 'decorator.ts',
      source: () => 'function log(target: unknown, _context: unknown) { return target; }\n\n@log\nclass A {}\nconsole.log(A);\n',
      code: 1,
      contains: (file) => [`${file}:3 uses a decorator`, 'needs a build step (tsc) or a loader', 'Node strips types but does not transform decorators', 'tsc', "nodeArgs: ['--import', 'tsx']"],
      not: ['syntax error'],
    },
    {
      name: 'a NestJS-style parameter decorator in an ES module (issue 11)',
      file: 'param-decorator.mts',
      source: () => "export class C {\n  get(@Param('id') id: string) { return id; }\n}\nfunction Param(_n: string) { return (..._a: unknown[]) => {}; }\n",
      code: 1,
      contains: (file) => [`${file}:2 uses a decorator`, 'needs a build step (tsc) or a loader'],
      not: ['file://'],
    },
    {
      name: 'a decorator after export',
      file: 'export-decorator.ts',
      source: () => "const x: string = 'a';\nexport @Dec() class C {}\nfunction Dec() { return (t: unknown) => t; }\n",
      code: 1,
      contains: (file) => [`${file}:2 uses a decorator`],
    },
    {
      name: 'a TypeScript enum under type stripping (issue 11)',
      file: 'enum.ts',
      source: () => 'const a: number = 1;\nenum Color { Red, Green }\nconsole.log(Color.Red, a);\n',
      code: 1,
      contains: (file) => [`${file}:2 uses a TypeScript enum`, 'needs a build step (tsc) or a loader', "nodeArgs: ['--import', 'tsx']", '--experimental-transform-types'],
      not: ['syntax error', 'exited with code'],
    },
    {
      name: 'a TypeScript parameter property under type stripping',
      file: 'param-prop.ts',
      source: () => "class Svc {\n  constructor(private readonly name: string) {}\n}\nconsole.log(new Svc('x'));\n",
      code: 1,
      contains: (file) => [`${file}:2 uses a TypeScript parameter property`, 'needs a build step (tsc) or a loader'],
    },
    {
      name: 'a TypeScript namespace under type stripping',
      file: 'namespace.ts',
      source: () => 'namespace Foo { export const x = 1; }\nconsole.log(Foo.x);\n',
      code: 1,
      contains: (file) => [`${file}:1 uses a TypeScript namespace declaration`, 'needs a build step (tsc) or a loader'],
    },
    {
      name: 'a decorator in a JavaScript file',
      file: 'decorator.mjs',
      source: () => 'function log(t) { return t; }\n@log\nclass A {}\n',
      code: 1,
      contains: (file) => [`${file}:2 uses a decorator`, 'compile the app'],
      not: ['tsx'],
    },
    {
      name: 'a TypeScript file with a plain syntax error stays a syntax error',
      file: 'broken.ts',
      source: () => 'const a: number = 1;\nconst x = ;\n',
      code: 1,
      contains: (file) => [`syntax error in ${file}:2`],
      not: ['decorator', 'build step'],
    },
    {
      name: 'ESM import of a missing relative file',
      file: 'missing-rel.mjs',
      source: () => "import './nope.mjs';\n",
      code: 1,
      contains: (file) => [`cannot find module '${join(dir, 'nope.mjs')}'`, `imported from ${file}`],
    },
    {
      name: 'EADDRINUSE in a plain process',
      file: 'listen.cjs',
      source: () => `require('node:http').createServer().listen(${port});\n`,
      code: 1,
      contains: () => [`port ${port} is already in use (EADDRINUSE)`],
    },
    {
      name: 'process.exit(3)',
      file: 'exit3.cjs',
      source: () => 'process.exit(3);\n',
      code: 3,
      contains: () => ['exited with code 3'],
      not: ['killed'],
    },
    {
      name: 'process.exit(0)',
      file: 'exit0.cjs',
      source: () => 'process.exit(0);\n',
      code: 0,
      contains: () => ['exited with code 0'],
    },
    {
      name: 'SIGKILL, empty stderr',
      file: 'sigkill.cjs',
      source: () => "process.kill(process.pid, 'SIGKILL');\n",
      code: null,
      signal: 'SIGKILL',
      contains: () => ['killed by SIGKILL', 'out of memory'],
    },
    {
      name: 'SIGTERM',
      file: 'sigterm.cjs',
      source: () => "process.kill(process.pid, 'SIGTERM'); setTimeout(() => {}, 10000);\n",
      code: null,
      signal: 'SIGTERM',
      contains: () => ['killed by SIGTERM'],
      not: ['out of memory'],
    },
    {
      name: "thrown new Error('boom')",
      file: 'boom.cjs',
      source: () => "throw new Error('boom');\n",
      code: 1,
      contains: () => ['exited with code 1', 'Error: boom'],
    },
    {
      name: "thrown new TypeError('bad type') in ESM",
      file: 'type-error.mjs',
      source: () => "throw new TypeError('bad type');\n",
      code: 1,
      contains: () => ['exited with code 1', 'TypeError: bad type'],
    },
    {
      name: 'unhandled rejection',
      file: 'reject.cjs',
      source: () => "Promise.reject(new RangeError('out of range'));\n",
      code: 1,
      contains: () => ['exited with code 1', 'RangeError: out of range'],
    },
  ];

  it.each(matrix)('$name', ({ file, source, files = {}, code, signal, contains, not = [] }) => {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const run = runScript(file, source());
    if (code !== undefined) expect(run.code).toBe(code);
    expect(run.signal).toBe(signal ?? null);
    const full = explainExit({ code: run.code, signal: run.signal, stderr: run.lines });
    for (const text of contains(join(dir, file))) expect(full).toContain(text);
    for (const text of not) expect(full).not.toContain(text);
    // What the supervisor really passes, the last STDERR_TAIL lines, gives the same reason.
    expect(explainTail(run)).toBe(full);
  });

  it('the syntax error reason names the file and line on one line', () => {
    const run = runScript('syntax2.cjs', 'const a = 1;\nconst b = 2;\nconst x = ;\n');
    expect(explainTail(run)).toBe(`syntax error in ${join(dir, 'syntax2.cjs')}:3: Unexpected token ';'`);
  });

  // Regression: for ESM, Node names the file as a percent-encoded file:// URL (a space is %20).
  it('an ESM syntax error in a path with a space shows the real path', () => {
    const run = runScript('with space.mjs', 'const x = ;\n');
    expect(explainTail(run)).toBe(`syntax error in ${join(dir, 'with space.mjs')}:1: Unexpected token ';'`);
  });

  // Regression: Node prints 26 stderr lines for an unhandled listen EADDRINUSE (the message line is
  // the 5th); with a 20-line tail the message was cut off and the reason fell back to "exited with code 1".
  it('the stderr tail is long enough to keep the EADDRINUSE message line', () => {
    const run = runScript('listen-tail.cjs', `require('node:http').createServer().listen(${port});\n`);
    expect(run.lines.length).toBeGreaterThan(20);
    expect(run.lines.slice(-STDERR_TAIL).some((line) => line.includes('listen EADDRINUSE'))).toBe(true);
    expect(explainTail(run)).toContain(`port ${port} is already in use (EADDRINUSE)`);
  });

  // Regression: nsup's workers are cluster workers; there a listen on a taken port fails with
  // "Error: bind EADDRINUSE null:<port>" (syscall 'bind'), not "listen EADDRINUSE: address already in use".
  it('EADDRINUSE in a cluster worker is explained, from the stderr tail', () => {
    const run = runScript(
      'cluster-listen.cjs',
      [
        "const cluster = require('node:cluster');",
        'if (cluster.isPrimary) {',
        "  cluster.setupPrimary({ stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });",
        "  cluster.fork().on('exit', (code) => process.exit(code ?? 1));",
        '} else {',
        `  require('node:http').createServer().listen(${port});`,
        '}',
        '',
      ].join('\n'),
    );
    expect(run.code).toBe(1);
    expect(run.lines).toContain(`Error: bind EADDRINUSE null:${port}`);
    expect(explainTail(run)).toContain(`port ${port} is already in use (EADDRINUSE)`);
  });
});

describe('explainExit for unix sockets (issue 11)', () => {
  let holder: Server;
  let sock: string;

  beforeAll(async () => {
    sock = join(dir, 'held.sock');
    holder = createServer();
    holder.listen(sock);
    await once(holder, 'listening');
  });

  afterAll(async () => {
    holder.close();
    await once(holder, 'close');
  });

  const inUse = () => `unix socket ${sock} is in use (EADDRINUSE): another process listens there; stop it or give the app another socket path (if nothing listens, remove the file)`;

  it('EADDRINUSE on a socket path in a plain process names the path, not a port', () => {
    const run = runScript('listen-sock.cjs', `require('node:http').createServer().listen(${JSON.stringify(sock)});\n`);
    expect(run.lines).toContain(`Error: listen EADDRINUSE: address already in use ${sock}`);
    expect(explainTail(run)).toBe(inUse());
  });

  it('EADDRINUSE on a socket path in a cluster worker ("bind EADDRINUSE <path>") names the path', () => {
    const run = runScript(
      'cluster-sock.cjs',
      [
        "const cluster = require('node:cluster');",
        'if (cluster.isPrimary) {',
        "  cluster.setupPrimary({ stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });",
        "  cluster.fork().on('exit', (code) => process.exit(code ?? 1));",
        '} else {',
        `  require('node:http').createServer().listen(${JSON.stringify(sock)});`,
        '}',
        '',
      ].join('\n'),
    );
    expect(run.lines).toContain(`Error: bind EADDRINUSE ${sock}`);
    expect(explainTail(run)).toBe(inUse());
  });

  it('a socket path with a space is named whole', () => {
    const stderr = ['Error: bind EADDRINUSE /srv/my app/app.sock', "  code: 'EADDRINUSE',"];
    expect(explainExit({ code: 1, signal: null, stderr })).toContain('unix socket /srv/my app/app.sock is in use');
  });

  it('EACCES on a socket path names the path', () => {
    const stderr = ['Error: listen EACCES: permission denied /var/run/app.sock'];
    expect(explainExit({ code: 1, signal: null, stderr })).toBe("no permission to create unix socket /var/run/app.sock (EACCES): use a directory the app's user may write to");
  });

  it('ports are still ports', () => {
    for (const line of ['Error: bind EADDRINUSE null:3000', 'Error: listen EADDRINUSE: address already in use :::3000', 'Error: listen EADDRINUSE: address already in use 127.0.0.1:3000']) {
      expect(explainExit({ code: 1, signal: null, stderr: [line] })).toMatch(/^port 3000 is already in use/);
    }
  });
});

describe('explainExit without stderr', () => {
  const matrix: Array<{ code: number | null; signal: string | null; expected: string }> = [
    { code: 3, signal: null, expected: 'exited with code 3' },
    { code: 0, signal: null, expected: 'exited with code 0' },
    { code: null, signal: 'SIGKILL', expected: 'killed by SIGKILL (out of memory, or killed from outside?)' },
    { code: null, signal: 'SIGTERM', expected: 'killed by SIGTERM' },
    { code: null, signal: 'SIGSEGV', expected: 'killed by SIGSEGV' },
  ];

  it.each(matrix)('code $code, signal $signal → $expected', ({ code, signal, expected }) => {
    expect(explainExit({ code, signal, stderr: [] })).toBe(expected);
  });
});

// Turns a worker's exit (code, signal, last stderr lines) into one line a person can act on.
import { basename, dirname, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What is known about a worker that exited. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** The last lines the worker wrote to stderr, oldest first. */
  stderr: readonly string[];
}

/** One-line reason for an exit, e.g. "port 3000 is already in use (EADDRINUSE)". */
export function explainExit(info: ExitInfo): string {
  const text = info.stderr.join('\n');
  for (const rule of RULES) {
    const match = rule.pattern.exec(text);
    const reason = match ? rule.explain(match, info.stderr) : null;
    if (reason !== null) return reason;
  }
  const firstError = info.stderr.find((line) => /^\s*(\w*Error|Error)\b[:\s]/.test(line));
  const how = info.signal ? `killed by ${info.signal}${info.signal === 'SIGKILL' ? ' (out of memory, or killed from outside?)' : ''}` : `exited with code ${info.code}`;
  return firstError ? `${how}: ${firstError.trim()}` : how;
}

interface Rule {
  pattern: RegExp;
  /** The reason; null passes the exit on to the next rule. */
  explain: (match: RegExpExecArray, stderr: readonly string[]) => string | null;
}

const RULES: Rule[] = [
  {
    // Cluster workers print "bind EADDRINUSE <address>", plain processes "listen EADDRINUSE: address already in use <address>".
    pattern: /(?:listen|bind) EADDRINUSE(?:: address already in use)? (.+)$/m,
    explain: (m) => {
      const address = (m[1] ?? '').trim();
      if (isSocketPath(address)) {
        return `unix socket ${address} is in use (EADDRINUSE): another process listens there; stop it or give the app another socket path (if nothing listens, remove the file)`;
      }
      return `port ${portOf(address)} is already in use (EADDRINUSE): stop the process that holds it or give the app another port`;
    },
  },
  {
    pattern: /(?:listen|bind) EACCES(?:: permission denied)? (.+)$/m,
    explain: (m) => {
      const address = (m[1] ?? '').trim();
      if (isSocketPath(address)) return `no permission to create unix socket ${address} (EACCES): use a directory the app's user may write to`;
      return `no permission to listen on port ${portOf(address)} (EACCES): use a port above 1023 or grant CAP_NET_BIND_SERVICE`;
    },
  },
  {
    // Type stripping refuses syntax it would have to transform: enum, namespace, parameter property, …
    pattern: /^SyntaxError \[ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX\]: TypeScript (.+?) (?:is|are) not supported in strip-only mode/m,
    explain: (m, stderr) => {
      const where = locationBefore(stderr, m[0]);
      return `${where ? `${where} uses a TypeScript ${m[1]}, which ` : `TypeScript ${m[1]}: `}${NEEDS_BUILD}. ${BUILD_FIX}, or nodeArgs: ['--import', 'tsx'], or nodeArgs: ['--experimental-transform-types'] (Node 22 and 24)`;
    },
  },
  {
    // A decorator is not JavaScript yet: V8 stops at the '@' ("Invalid or unexpected token"), or at
    // the `export` of `export @Dec() class` ("Unexpected token 'export'").
    pattern: /^(.+?):(\d+)\n(.*)\n([ \t]*)\^+\n(?:.*\n){0,2}?SyntaxError: (?:Invalid or unexpected token|Unexpected token '(?:@|export)')$/m,
    explain: (m) => {
      const [, file = '', line, source = '', indent = ''] = m;
      if (source[indent.length] !== '@' && !/^\s*export\s+(?:default\s+)?@[\w$]/.test(source)) return null;
      const where = `${filePath(file)}:${line}`;
      if (!/\.[mc]?tsx?$/.test(file)) return `${where} uses a decorator, which Node does not run yet: compile the app (tsc, Babel) and run the output`;
      return `${where} uses a decorator, which ${NEEDS_BUILD}. ${BUILD_FIX}, or use a loader: nodeArgs: ['--import', 'tsx'] (it emits no decorator metadata, which NestJS's injection needs: use tsc there)`;
    },
  },
  {
    // Node prints "file:line" above the caret and "SyntaxError: message" a few lines later (for
    // TypeScript that type stripping cannot parse, "SyntaxError [ERR_INVALID_TYPESCRIPT_SYNTAX]: message").
    pattern: /^(.+?):(\d+)\n(?:.*\n){0,8}?SyntaxError(?: \[ERR_INVALID_TYPESCRIPT_SYNTAX\])?: (.+)$/m,
    explain: (m) => `syntax error in ${filePath(m[1] ?? '')}:${m[2]}: ${m[3]}`,
  },
  {
    pattern: /^SyntaxError(?: \[ERR_INVALID_TYPESCRIPT_SYNTAX\])?: (.+)$/m,
    explain: (m) => `syntax error: ${m[1]}`,
  },
  {
    pattern: /Error \[ERR_MODULE_NOT_FOUND\]: Cannot find package '([^']+)'(?: imported from (.+))?$/m,
    explain: (m) => `cannot find package '${m[1]}'${m[2] ? ` (imported from ${m[2]})` : ''}: run npm install (and check that it is in package.json)`,
  },
  {
    // ESM resolves file names exactly: `import './util'` fails where require('./util') would work.
    pattern: /Error \[ERR_MODULE_NOT_FOUND\]: Cannot find module '([^']+)'(?: imported from (.+))?$(?:\nDid you mean to import "?([^"\n]+?)"?\?$)?/m,
    explain: (m) => {
      const [, target = '', importer, hint] = m;
      const from = importer ? ` (imported from ${importer})` : '';
      if (hint) return `cannot find module '${target}'${from}: add the file extension: import '${hint}' (ES modules need the full file name)`;
      if (importer && !/\.\w+$/.test(basename(target))) {
        const spec = relativeSpec(importer, target);
        const ext = /\.[mc]?tsx?$/.test(importer) ? `'${spec}.ts' ('${spec}.js' for a JavaScript file)` : `'${spec}.js'`;
        return `cannot find module '${target}'${from}: ES module imports need the file extension: ${ext}, or check the path`;
      }
      return `cannot find module '${target}'${from}: check the path`;
    },
  },
  {
    pattern: /Error \[ERR_UNSUPPORTED_DIR_IMPORT\]: Directory import '([^']+)' is not supported resolving ES modules(?: imported from (.+))?$(?:\nDid you mean to import "?([^"\n]+?)"?\?$)?/m,
    explain: (m) => `cannot import directory '${m[1]}'${m[2] ? ` (imported from ${m[2]})` : ''}: ES modules import files${m[3] ? `: import '${m[3]}'` : ', e.g. its index.js'}`,
  },
  {
    pattern: /Error: Cannot find module '([^']+)'/,
    explain: (m) => `cannot find module '${m[1]}': ${/^(?:\.{1,2}|)\//.test(m[1] ?? '') ? 'check the path' : 'run npm install (and check that it is in package.json)'}`,
  },
];

const NEEDS_BUILD = 'needs a build step (tsc) or a loader: Node strips types but does not transform decorators, enums, parameter properties or namespaces';
const BUILD_FIX = 'Build to JavaScript (tsc) and run the output';

/** The "file:line" Node prints above the source excerpt of the error at `message`, as a path. */
function locationBefore(stderr: readonly string[], message: string): string | null {
  const first = message.split('\n')[0];
  const at = stderr.findIndex((line) => first !== undefined && line.startsWith(first));
  for (let i = at - 1; i >= 0 && i >= at - 40; i--) {
    const match = /^(.+?\.[mc]?tsx?):(\d+)$/.exec(stderr[i]!);
    if (match) return `${filePath(match[1]!)}:${match[2]}`;
  }
  return null;
}

/** The import specifier of `target` relative to the importing file: './util', '../lib/x'. */
function relativeSpec(importer: string, target: string): string {
  const spec = relative(dirname(filePath(importer)), target).split(sep).join('/');
  return spec.startsWith('.') ? spec : `./${spec}`;
}

// A listen address is host:port ("null:3000", ":::3000", "127.0.0.1:3000"); anything else is a socket path.
function isSocketPath(address: string): boolean {
  return !/:\d+$/.test(address);
}

function filePath(name: string): string {
  return name.startsWith('file://') ? fileURLToPath(name) : name;
}

function portOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon >= 0 ? address.slice(colon + 1) : address;
}

// Turns a worker's exit (code, signal, last stderr lines) into one line a person can act on.
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
    if (match) return rule.explain(match, info.stderr);
  }
  const firstError = info.stderr.find((line) => /^\s*(\w*Error|Error)\b[:\s]/.test(line));
  const how = info.signal ? `killed by ${info.signal}${info.signal === 'SIGKILL' ? ' (out of memory, or killed from outside?)' : ''}` : `exited with code ${info.code}`;
  return firstError ? `${how}: ${firstError.trim()}` : how;
}

interface Rule {
  pattern: RegExp;
  explain: (match: RegExpExecArray, stderr: readonly string[]) => string;
}

const RULES: Rule[] = [
  {
    pattern: /(?:listen|bind) EADDRINUSE(?:: address already in use)? (\S+)/,
    explain: (m) =>
      `port ${portOf(m[1] ?? '')} is already in use (EADDRINUSE): stop the process that holds it or give the app another port`,
  },
  {
    pattern: /(?:listen|bind) EACCES(?:: permission denied)? (\S+)/,
    explain: (m) => `no permission to listen on port ${portOf(m[1] ?? '')} (EACCES): use a port above 1023 or grant CAP_NET_BIND_SERVICE`,
  },
  {
    // Node prints "file:line" above the caret and "SyntaxError: message" a few lines later.
    pattern: /^(.+?):(\d+)\n(?:.*\n){0,4}?SyntaxError: (.+)$/m,
    explain: (m) => `syntax error in ${filePath(m[1] ?? '')}:${m[2]}: ${m[3]}`,
  },
  {
    pattern: /^SyntaxError: (.+)$/m,
    explain: (m) => `syntax error: ${m[1]}`,
  },
  {
    pattern: /Error \[ERR_MODULE_NOT_FOUND\]: Cannot find (?:module|package) '([^']+)'(?: imported from (\S+))?/,
    explain: (m) => `cannot find module '${m[1]}'${m[2] ? ` (imported from ${m[2]})` : ''}: check the path or run npm install`,
  },
  {
    pattern: /Error: Cannot find module '([^']+)'/,
    explain: (m) => `cannot find module '${m[1]}': check the path or run npm install`,
  },
];

function filePath(name: string): string {
  return name.startsWith('file://') ? fileURLToPath(name) : name;
}

function portOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon >= 0 ? address.slice(colon + 1) : address;
}

// The body of `nsup import`, imported lazily: read and validate a PM2 ecosystem file (refusals
// exit 78 like `nsup start`), print the warnings on stderr, and the equivalent typed config on
// stdout, one key per line, with the warnings as comments at the top.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { DEFAULT_CONFIG, ECOSYSTEM_FILES, loadEcosystem } from '../config/load.ts';
import type { Pm2Conversion } from '../config/pm2.ts';
import { APP } from '../config/schema.ts';
import { EXIT } from '../errors.ts';
import { NSUP_VERSION } from '../version.ts';

/** Convert the file (default: ./ecosystem.config.js, .cjs or .json) and print it; resolves with the exit code. */
export async function runImport(args: { file?: string | undefined }): Promise<number> {
  const file = args.file ?? ECOSYSTEM_FILES.find((name) => existsSync(name)) ?? ECOSYSTEM_FILES[0]!;
  const { conversion, config } = await loadEcosystem(file);
  for (const w of conversion.warnings) process.stderr.write(`nsup: warning: ${w.message}\n`);
  const target = configName(dirname(config.file ?? resolve(file)));
  process.stdout.write(renderConfig(conversion, basename(file), target));
  const where = relative(process.cwd(), config.file ?? file) || file;
  const run = target === DEFAULT_CONFIG ? 'nsup start' : `nsup start -c ${target} (its package.json says "type": "commonjs", so a .ts file would be read as CommonJS)`;
  process.stderr.write(`nsup: converted ${config.apps.length} app${config.apps.length === 1 ? '' : 's'} (${config.apps.map((a) => a.name).join(', ')}) from ${where}; save the output next to it as ${target}, then run ${run}\n`);
  return EXIT.ok;
}

/** The name the converted config should have in `dir`: supervisor.config.ts, or .mts where package.json makes .ts files CommonJS. */
export function configName(dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    const pkg = join(at, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type === 'commonjs' ? 'supervisor.config.mts' : DEFAULT_CONFIG;
      } catch {
        return DEFAULT_CONFIG;
      }
    }
    if (dirname(at) === at) return DEFAULT_CONFIG;
  }
}

/** The conversion as a supervisor.config.ts: defineConfig, one key per line, warnings as comments on top. */
export function renderConfig(conversion: Pm2Conversion, from: string, name: string = DEFAULT_CONFIG): string {
  const head = [
    `// Converted from the PM2 file ${from} by nsup import (nsup ${NSUP_VERSION}).`,
    `// Paths are relative to the folder of ${from}: keep this file there, as ${name}. Run it with: nsup start${name === DEFAULT_CONFIG ? '' : ` -c ${name}`}`,
  ];
  if (conversion.warnings.length > 0) {
    head.push('//', '// What nsup does differently from PM2 here (keys mapped differently or ignored):');
    for (const w of conversion.warnings) head.push(`//   ${w.message.replace(/\r?\n/g, ' ')}`);
  }
  const { apps, ...top } = conversion.config;
  const body = { apps: apps.map((app) => (isObject(app) ? inTableOrder(app) : app)), ...top };
  return `${head.join('\n')}\nimport { defineConfig } from 'nsup';\n\nexport default defineConfig(${render(body, '')});\n`;
}

// An app's keys in the schema's order (name, script, instances, … as the docs list them), and
// restart's and watch's in the README's.
function inTableOrder(app: Record<string, unknown>): Record<string, unknown> {
  const order = [...Object.keys(APP), ...NESTED_ORDER];
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  const sorted = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => rank(a) - rank(b)));
  return Object.fromEntries(Object.entries(sorted(app)).map(([k, v]) => [k, isObject(v) && (k === 'restart' || k === 'watch') ? sorted(v) : v]));
}

const NESTED_ORDER = ['paths', 'ignore', 'debounce', 'delay', 'maxDelay', 'minUptime', 'maxRestarts', 'stopExitCodes'];

// A value as TypeScript source: objects one key per line, short lists of scalars on one line.
function render(value: unknown, indent: string): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((x: unknown) => render(x, inner));
    const flat = `[${items.join(', ')}]`;
    if (value.every((x) => !isObject(x) && !Array.isArray(x)) && flat.length + indent.length <= 100) return flat;
    return `[\n${items.map((item) => `${inner}${item},`).join('\n')}\n${indent}]`;
  }
  if (isObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, v]) => `${inner}${key(k)}: ${render(v, inner)},`).join('\n')}\n${indent}}`;
  }
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // Functions, symbols, bigints: nothing a config key takes; written so the file still loads and says so.
  return `undefined /* ${typeof value} in the PM2 file */`;
}

function key(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : `'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

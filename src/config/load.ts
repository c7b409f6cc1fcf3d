// Finds and imports supervisor.config.ts (or any .ts/.mts/.js/.mjs/.cjs config, or a PM2
// ecosystem file: .js/.cjs/.json), then validates it. Node >= 22.18 strips TypeScript types
// natively, so no loader (jiti, tsx) is needed. A reload imports the file again only when its
// bytes changed: Node never frees an imported module, so re-importing on every reload grew the
// primary's heap by about 4 KB per reload for good (issue 14).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ConfigLoadError, NsupError } from '../errors.ts';
import type { ResolvedConfig } from './define.ts';
import { fromPm2, inPm2Terms, isPm2Ecosystem, type ModuleFormat, type Pm2Conversion } from './pm2.ts';
import { resolveConfig, type ResolveContext } from './schema.ts';

/** The config file nsup looks for when `nsup start` gets no script and no --config. */
export const DEFAULT_CONFIG = 'supervisor.config.ts';

/** PM2's default file names, which `nsup start` uses when there is no supervisor.config.ts (as `pm2 start` does). */
export const ECOSYSTEM_FILES = ['ecosystem.config.js', 'ecosystem.config.cjs', 'ecosystem.config.json'];

/** Whether `nsup start <path>` names a config file rather than a script: *.config.{js,cjs,mjs,ts,mts,cts}, ecosystem*.{js,cjs}, or .json. */
export function isConfigFileName(path: string): boolean {
  const name = basename(path);
  return /\.json$/i.test(name) || /\.config\.[cm]?[jt]s$/.test(name) || /^ecosystem.*\.c?js$/.test(name);
}

/** The config file in `dir` that `nsup start` uses by default: supervisor.config.ts, else a PM2 ecosystem file, else supervisor.config.ts (to report missing). */
export function defaultConfigFile(dir: string = process.cwd()): string {
  if (existsSync(resolve(dir, DEFAULT_CONFIG))) return resolve(dir, DEFAULT_CONFIG);
  const ecosystem = ECOSYSTEM_FILES.map((name) => resolve(dir, name)).find((path) => existsSync(path));
  return ecosystem ?? resolve(dir, DEFAULT_CONFIG);
}

let importCounter = 0;
const require = createRequire(import.meta.url);

// The last evaluation of each config file (by the path given), with the bytes and real path it
// was evaluated from. Only the module's value is kept: flags, env files and --env are applied to
// it again on every load.
interface Evaluation {
  real: string;
  bytes: Buffer;
  value: unknown;
  format: ModuleFormat;
}
const evaluations = new Map<string, Evaluation>();

/** Import a config file's default export: evaluated again only when the file's content changed since the last call. */
export async function importConfig(file: string): Promise<unknown> {
  return (await readConfigModule(resolve(file))).value;
}

/** Load and validate a config file (nsup's or PM2's format), applying `override` to the raw value first (CLI flags win). */
export async function loadConfigFile(
  file: string,
  override: (raw: unknown) => unknown = (raw) => raw,
  extra: Omit<ResolveContext, 'file' | 'baseDir'> = {},
): Promise<ResolvedConfig> {
  const path = resolve(file);
  const { value, format } = await readConfigModule(path);
  const ctx: ResolveContext = { file: path, baseDir: dirname(path), ...extra };
  if (!isPm2Ecosystem(value, path, format)) return resolveConfig(override(value), ctx);
  const pm2 = fromPm2(value, { file: path, ...(extra.cpuProbe ? { cpuProbe: extra.cpuProbe } : {}) });
  return withWarnings(resolvePm2(pm2, override, ctx), pm2);
}

/** A PM2 ecosystem file as nsup's raw config and its warnings, validated (`nsup import`); a file in nsup's format is a ConfigLoadError. */
export async function loadEcosystem(file: string, extra: Omit<ResolveContext, 'file' | 'baseDir'> = {}): Promise<{ conversion: Pm2Conversion; config: ResolvedConfig }> {
  const path = resolve(file);
  const { value, format } = await readConfigModule(path);
  if (!isPm2Ecosystem(value, path, format)) {
    throw new ConfigLoadError(`${path} is not a PM2 ecosystem file (module.exports = { apps: [...] }, or JSON): it is in nsup's format already. Start it with nsup start -c ${basename(path)}.`);
  }
  const conversion = fromPm2(value, { file: path, ...(extra.cpuProbe ? { cpuProbe: extra.cpuProbe } : {}) });
  const config = resolvePm2(conversion, (raw) => raw, { file: path, baseDir: dirname(path), ...extra });
  return { conversion, config: withWarnings(config, conversion) };
}

// Errors about keys that came from PM2 keys name the PM2 key (and nsup's).
function resolvePm2(pm2: Pm2Conversion, override: (raw: unknown) => unknown, ctx: ResolveContext): ResolvedConfig {
  try {
    return resolveConfig(override(pm2.config), ctx);
  } catch (error) {
    throw inPm2Terms(error, pm2.origins);
  }
}

function withWarnings(config: ResolvedConfig, pm2: Pm2Conversion): ResolvedConfig {
  return Object.freeze({ ...config, warnings: Object.freeze(pm2.warnings.map((w) => Object.freeze({ ...w }))) });
}

// The file's value and how it was loaded. JSON is parsed (PM2's ecosystem.json); anything else
// is imported, and CommonJS shows itself by landing in require's cache.
async function readConfigModule(path: string): Promise<{ value: unknown; format: ModuleFormat }> {
  if (!existsSync(path)) {
    throw new ConfigLoadError(
      `Config file not found: ${path}. Create it (see README "Config reference"), pass --config <file>, or give a script: nsup start app.js`,
    );
  }
  if (extname(path).toLowerCase() === '.json') return { value: parseJson(path), format: 'json' };
  // Compared by content, not mtime: an edit within the same second is seen, and a touch (or a
  // save of the same text) costs nothing. Files the config imports were never re-read (they
  // stay in Node's module cache), so an unchanged top file means an unchanged module.
  const { real, bytes } = readBytes(path);
  const last = evaluations.get(path);
  if (last && last.real === real && last.bytes.equals(bytes)) return last;
  const fresh = await importModule(path, real);
  // Remembered only once it imported: a broken file is imported again on the next try (the
  // fix may be in a file it imports). Read before the import, so an edit made while it ran
  // shows as a change next time.
  evaluations.set(path, { real, bytes, ...fresh });
  return fresh;
}

// A fresh evaluation of the file (a new module: Node keeps the old one for good).
async function importModule(path: string, real: string): Promise<{ value: unknown; format: ModuleFormat }> {
  // import() of CommonJS goes through require's cache, which a query string does not bust: drop
  // the entry so that an edited module.exports file is read again (its own requires stay cached).
  delete require.cache[real];
  delete require.cache[path];
  const url = pathToFileURL(path);
  // A query string busts the ESM cache, so an edited file is read again on reload.
  url.search = `nsup=${++importCounter}`;
  let module: { default?: unknown };
  try {
    module = (await import(url.href)) as { default?: unknown };
  } catch (error) {
    throw new ConfigLoadError(`Cannot load config file ${path}: ${describeImportError(error, path)}`, { cause: error });
  }
  if (module.default === undefined) {
    throw new ConfigLoadError(
      `Config file ${path} has no default export. Write: export default defineConfig({ apps: [{ script: './server.js' }] })`,
    );
  }
  const ext = extname(path).toLowerCase();
  const commonjs = ext === '.cjs' || ext === '.cts' || (ext !== '.mjs' && ext !== '.mts' && (require.cache[real] !== undefined || require.cache[path] !== undefined));
  const format: ModuleFormat = commonjs ? 'commonjs' : 'esm';
  return { value: module.default, format };
}

function readBytes(path: string): { real: string; bytes: Buffer } {
  try {
    const real = realpathSync(path);
    return { real, bytes: readFileSync(real) };
  } catch (error) {
    throw new ConfigLoadError(`Cannot read config file ${path}: ${(error as Error).message}. Check that it is a readable file.`, { cause: error });
  }
}

function parseJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    throw new ConfigLoadError(`Cannot load config file ${path}: ${error instanceof SyntaxError ? `JSON syntax error: ${error.message}. Fix the file and try again.` : String(error)}`, { cause: error });
  }
}

function describeImportError(error: unknown, path: string): string {
  if (error instanceof NsupError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  if (error instanceof SyntaxError) {
    const where = syntaxErrorLocation(error, path);
    return `syntax error${where ? ` at ${where}` : ''}: ${error.message.replace(/^\[\w+\]: /, '')}. Fix the file and try again.`;
  }
  if (code === 'ERR_MODULE_NOT_FOUND') return `${error.message}. Check the import paths (is nsup installed?).`;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' || code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX') {
    return `${error.message}. Node ${process.version} strips TypeScript types only (no enums or namespaces); use Node >= 22.18, or write the config as .js/.mjs.`;
  }
  return `${error.name}: ${error.message}`;
}

// "file:line" of a syntax error: from the stack (TypeScript stripping puts it there), else
// from `node --check`, which prints it for plain JavaScript.
function syntaxErrorLocation(error: SyntaxError, path: string): string | null {
  const fromStack = /^(\S+:\d+)\n/.exec(error.stack ?? '');
  if (fromStack?.[1]) return fromStack[1];
  if (/\.[mc]?ts$/.test(path)) return null;
  const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 5000 });
  const line = /^(\S+:\d+)$/m.exec(check.stderr ?? '');
  return line?.[1] ?? null;
}

// PM2 ecosystem files (`module.exports = { apps: [...] }`, or JSON): recognise one, and turn it
// into nsup's raw config (then validated by schema.ts like any other), with one warning line per
// key nsup maps differently or ignores. The key table is pm2-keys.ts.
import { basename } from 'node:path';
import type { CpuProbeOptions } from '../cpus.ts';
import { ConfigInvalidError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { ConfigWarning, ResolvedConfig } from './define.ts';
import { ALIASES, HANDLERS, IGNORED, show, type Pm2App } from './pm2-keys.ts';
import { APP } from './schema.ts';

/** How a config file's value was loaded: an ES module's default export, CommonJS module.exports, or JSON. */
export type ModuleFormat = 'esm' | 'commonjs' | 'json';

/** A PM2 ecosystem file as nsup's raw config (still to validate), its warnings, and where each nsup key came from. */
export interface Pm2Conversion {
  config: { apps: unknown[]; [key: string]: unknown };
  warnings: ConfigWarning[];
  /** nsup key path (e.g. 'apps[0].maxMemory') → the PM2 key path it came from ('apps[0].max_memory_restart'). */
  origins: Map<string, string>;
}

/**
 * Whether a config file is in PM2's format rather than nsup's: JSON, a file named ecosystem*, or
 * CommonJS (PM2's `module.exports`) whose apps use a key only PM2 has. An ES module's default
 * export (nsup's `export default defineConfig(...)`) is nsup's format, where a PM2 key gets a hint.
 */
export function isPm2Ecosystem(value: unknown, file: string, format: ModuleFormat): boolean {
  if (format === 'json' || basename(file).startsWith('ecosystem')) return true;
  if (format !== 'commonjs') return false;
  if (isObject(value) && value.deploy !== undefined) return true;
  const apps = appsOf(value);
  if (apps === null) return false;
  if (!isObject(value) || !Array.isArray(value.apps)) return true;
  return apps.some((app) => isObject(app) && Object.keys(app).some((key) => !Object.hasOwn(APP, key) && isPm2Key(key)));
}

/** Convert a PM2 ecosystem value (`{ apps }`, one app, or an array of apps) to nsup's raw config; throws ConfigInvalidError on what cannot work. */
export function fromPm2(value: unknown, opts: { file: string; cpuProbe?: CpuProbeOptions }): Pm2Conversion {
  const apps = appsOf(value);
  if (apps === null) {
    throw new ConfigInvalidError('apps', `Invalid config in ${opts.file} at apps: a PM2 ecosystem file exports { apps: [{ script: './server.js' }] }; got ${show(value)}. Export an apps array.`);
  }
  const warnings: ConfigWarning[] = [];
  const origins = new Map<string, string>();
  const name = basename(opts.file);
  const warn = (key: string, message: string) => warnings.push({ key, message: `${name} ${key}: ${message}` });
  const config: Pm2Conversion['config'] = { apps: apps.map((app, i) => (isObject(app) ? convertApp(app, `apps[${i}]`, { ...opts, warn, origins }) : app)) };
  if (isObject(value) && Array.isArray(value.apps) || isObject(value) && isObject(value.apps)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'apps' || v === undefined) continue;
      if (key === 'deploy') warn(key, 'ignored: nsup does not copy code to servers; deploy with your tools (git, rsync, CI), then run the nsup deploy command there (docs/deploy.md)');
      else if (key === 'metrics') config.metrics = v;
      else warn(key, 'ignored: not a key of PM2 ecosystem files that nsup knows');
    }
  }
  return { config, warnings, origins };
}

/** A config error about a key that came from a PM2 key, restated with the key the file has. */
export function inPm2Terms(error: unknown, origins: Map<string, string>): unknown {
  if (!(error instanceof ConfigInvalidError)) return error;
  let best: string | undefined;
  for (const path of origins.keys()) {
    const covers = error.keyPath === path || error.keyPath.startsWith(`${path}.`) || error.keyPath.startsWith(`${path}[`);
    if (covers && (best === undefined || path.length > best.length)) best = path;
  }
  if (best === undefined) return error;
  const pm2Path = origins.get(best)! + error.keyPath.slice(best.length);
  const message = error.message.replace(` at ${error.keyPath}:`, ` at ${pm2Path} (nsup's ${error.keyPath}):`);
  return new ConfigInvalidError(pm2Path, message);
}

// One app: every PM2 key through its handler (or a warning), then nsup's own keys as written.
function convertApp(
  pm2: Record<string, unknown>,
  at: string,
  opts: { file: string; cpuProbe?: CpuProbeOptions; warn: (key: string, message: string) => void; origins: Map<string, string> },
): Record<string, unknown> {
  // PM2's defaults where nsup's differ: one process, and the app's own shutdown code on SIGINT.
  const out: Record<string, unknown> = { instances: 1, killSignal: 'SIGINT' };
  const own: Array<[string, unknown]> = [];
  const app: Pm2App = {
    pm2,
    cpuProbe: opts.cpuProbe,
    set: (path, value, from) => {
      setPath(out, path, value);
      opts.origins.set(`${at}.${path.join('.')}`, `${at}.${from}`);
    },
    get: (path) => path.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), out),
    warn: (key, message) => opts.warn(`${at}.${key}`, message),
    refuse: (key, detail) => {
      throw new ConfigInvalidError(`${at}.${key}`, `Invalid config in ${opts.file} at ${at}.${key}: ${detail}`);
    },
  };
  for (const [key, value] of Object.entries(pm2)) {
    if (value === undefined) continue;
    const canonical = ALIASES[key] ?? key;
    const envName = /^env_(.+)$/.exec(key)?.[1];
    if (envName !== undefined) app.set(['envs', envName], value, key);
    else if (Object.hasOwn(HANDLERS, canonical)) HANDLERS[canonical]!(value, app, key);
    else if (Object.hasOwn(IGNORED, canonical)) app.warn(key, `ignored: ${IGNORED[canonical]}`);
    else if (Object.hasOwn(APP, key)) own.push([key, value]);
    else app.warn(key, 'ignored: not a PM2 app key nsup knows (a typo?)');
  }
  // PM2's fork mode (its default without instances) counts a process as started once it runs; its
  // cluster mode waits for it to listen. nsup runs both as cluster workers, up the same way.
  const fork = pm2.readyWhen === undefined && (pm2.exec_mode === undefined ? pm2.instances === undefined : /^fork/.test(String(pm2.exec_mode)));
  if (fork && pm2.wait_ready !== true) out.readyWhen = 'online';
  if (fork && pm2.exec_mode === undefined) {
    app.warn('exec_mode', "not set, so PM2 would run one process in fork mode: nsup runs one cluster worker, up once it runs (readyWhen: 'online'); for a server, exec_mode: 'cluster' makes reloads wait until the new workers listen");
  }
  // nsup's own keys in a PM2 file win over what PM2's keys became (objects merged one level).
  for (const [key, value] of own) out[key] = isObject(value) && isObject(out[key]) ? { ...out[key], ...value } : value;
  return out;
}

/** The apps of a PM2 ecosystem value: `{ apps: [...] }`, `{ apps: {...} }`, an array of apps, or one app; null if none of these. */
function appsOf(value: unknown): unknown[] | null {
  if (isObject(value) && value.apps !== undefined) return Array.isArray(value.apps) ? value.apps : isObject(value.apps) ? [value.apps] : null;
  if (Array.isArray(value)) return value;
  return isObject(value) && typeof value.script === 'string' ? [value] : null;
}

function isPm2Key(key: string): boolean {
  return /^env_./.test(key) || Object.hasOwn(HANDLERS, ALIASES[key] ?? key) || Object.hasOwn(IGNORED, ALIASES[key] ?? key);
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A function that logs a config's warnings (event `config.pm2-key`), each line once per supervisor: at start, and the new ones a reload's re-read file has. */
export function configWarningLogger(logger: Pick<Logger, 'warn'>): (config: ResolvedConfig) => ResolvedConfig {
  const logged = new Set<string>();
  return (config) => {
    for (const w of config.warnings ?? []) {
      if (logged.has(w.message)) continue;
      logged.add(w.message);
      logger.warn({ event: 'config.pm2-key', key: w.key, config: config.file }, w.message);
    }
    return config;
  };
}

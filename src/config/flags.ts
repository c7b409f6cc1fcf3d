// `nsup start`'s config flags come from the schema's tables: each key that has a flag declares it
// next to its parser (schema.ts), and this file turns those declarations into yargs options, into
// overrides on top of a config file (or an app made of flags alone), and back into the flag a
// config error is about. Adding a key with a flag is one entry in one table.
import { resolve } from 'node:path';
import type { ResolvedConfig } from './define.ts';
import { DEFAULT_CONFIG, loadConfigFile } from './load.ts';
import { APP, LOG_ROTATE, METRICS, WATCH, resolveConfig, type FlagSpec, type RunChoices, type Table } from './schema.ts';
import { ConfigInvalidError, UsageError } from '../errors.ts';

/** Where a table's keys sit in a config: in every app (`apps[i].<at>`) or at the top level. */
const FLAG_TABLES: Array<{ table: Table; scope: 'app' | 'top'; at: string[] }> = [
  { table: APP, scope: 'app', at: [] },
  { table: WATCH, scope: 'app', at: ['watch'] },
  { table: LOG_ROTATE, scope: 'app', at: ['logRotate'] },
  { table: METRICS, scope: 'top', at: ['metrics'] },
];

interface KeyFlag {
  spec: FlagSpec;
  scope: 'app' | 'top';
  /** The key's path inside its scope, e.g. ['watch', 'ignore']. */
  path: string[];
}

const KEY_FLAGS: KeyFlag[] = FLAG_TABLES.flatMap(({ table, scope, at }) =>
  Object.entries(table).flatMap(([key, field]) => (field.flag ? [{ spec: field.flag, scope, path: [...at, key] }] : [])),
);

/** The parsed `nsup start` arguments this file reads: the config flags (camelCase) and these. */
export interface StartArgs {
  script?: string;
  name?: string;
  config?: string;
  '--'?: Array<string | number>;
  [flag: string]: unknown;
}

/** yargs options for every config key that has a flag, in table order. */
// nargs: 1 takes the next word even when it starts with '-' (parse.ts sets nargs-eats-options).
export function configFlagOptions(): Record<string, { alias?: string; type: FlagSpec['type']; array?: boolean; nargs?: 1; description: string }> {
  return Object.fromEntries(
    KEY_FLAGS.map(({ spec }) => [spec.flag, { ...(spec.alias ? { alias: spec.alias } : {}), type: spec.type, ...(spec.array ? { array: true } : {}), ...(spec.nargs ? { nargs: spec.nargs } : {}), description: spec.describe }]),
  );
}

/** The config for these flags: a config file with the flags on top, or an app made of the flags alone. */
export async function configFromFlags(args: StartArgs): Promise<ResolvedConfig> {
  const { app, top, run } = overridesFromFlags(args);
  if (args.script !== undefined) {
    if (args.config !== undefined) throw new UsageError('Give either a script or --config, not both.');
    const only = { script: args.script, ...(args.name !== undefined ? { name: args.name } : {}), ...app };
    try {
      return resolveConfig({ apps: [only], ...top }, { file: null, baseDir: process.cwd(), run });
    } catch (error) {
      throw nameTheFlag(error);
    }
  }
  const file = resolve(args.config ?? DEFAULT_CONFIG);
  return loadConfigFile(file, (raw) => applyOverrides(raw, { app, top }, args.name), { run });
}

/** Only the flags given on the command line: raw config values per scope, and the choices for the whole run (--env). */
export function overridesFromFlags(args: StartArgs): { app: Record<string, unknown>; top: Record<string, unknown>; run: RunChoices } {
  const out = { app: {} as Record<string, unknown>, top: {} as Record<string, unknown>, run: {} as RunChoices };
  for (const { spec, scope, path } of KEY_FLAGS) {
    const value = args[camel(spec.flag)];
    if (value === undefined) continue;
    if (spec.toRun) Object.assign(out.run, spec.toRun(value as never));
    else setPath(out[scope], path, spec.toConfig ? spec.toConfig(value as never) : value);
  }
  if (args['--'] !== undefined && args['--'].length > 0) out.app.args = args['--'].map(String);
  return out;
}

/** The flag that sets the key at `keyPath` (e.g. 'apps[0].watch.ignore' → '--ignore'), if there is one. */
export function flagForKeyPath(keyPath: string): string | undefined {
  const inApp = /^apps\[\d+\]\.(.+)$/.exec(keyPath)?.[1];
  const [scope, rest] = inApp !== undefined ? (['app', inApp] as const) : (['top', keyPath] as const);
  const found = KEY_FLAGS.find((k) => k.scope === scope && (rest === k.path.join('.') || rest.startsWith(`${k.path.join('.')}[`)));
  return found && `--${found.spec.flag}`;
}

// Flags win over the file: plain objects (env, watch, metrics) are merged one level deep.
function applyOverrides(raw: unknown, overrides: { app: Record<string, unknown>; top: Record<string, unknown> }, only: string | undefined): unknown {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { apps?: unknown }).apps)) return raw;
  let apps = (raw as { apps: unknown[] }).apps;
  if (only !== undefined) {
    apps = apps.filter((app) => isObject(app) && app.name === only);
    if (apps.length === 0) {
      const names = (raw as { apps: Array<{ name?: unknown }> }).apps.map((app) => app?.name).filter(Boolean);
      throw new UsageError(`No app named '${only}' in the config file. Apps: ${names.join(', ') || '(none named)'}.`);
    }
  }
  return { ...merge(raw as Record<string, unknown>, overrides.top), apps: apps.map((app) => (isObject(app) ? merge(app, overrides.app) : app)) };
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = isObject(value) && isObject(base[key]) ? { ...base[key], ...value } : value;
  return out;
}

// On the command line, `apps[0].killTimeout` is the --kill-timeout flag: say so.
function nameTheFlag(error: unknown): unknown {
  if (!(error instanceof ConfigInvalidError)) return error;
  const key = /^apps\[0\]\.(\w+)/.exec(error.keyPath)?.[1];
  const flag = key === 'args' ? 'the arguments after --' : key === 'script' ? 'the script argument' : flagForKeyPath(error.keyPath);
  if (!flag) return error;
  return new ConfigInvalidError(error.keyPath, error.message.replace(` at ${error.keyPath}:`, ` at ${flag}:`));
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A flag's key in the parsed arguments: yargs' camelCase form (`--kill-timeout` → killTimeout). */
export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

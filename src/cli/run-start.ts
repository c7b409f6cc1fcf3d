// The body of `nsup start`, imported lazily: turn flags into a config, then supervise.
import { resolve } from 'node:path';
import type { ResolvedConfig } from '../config/define.ts';
import { DEFAULT_CONFIG, loadConfigFile } from '../config/load.ts';
import { parseSize, resolveConfig } from '../config/schema.ts';
import { DAEMON_ENV, detach } from './detach.ts';
import { ConfigInvalidError, UsageError } from '../errors.ts';
import { startSupervisor } from '../supervisor/start.ts';
import type { StartArgs } from './commands/start.ts';

/** Load the config named by the flags and run the supervisor until it stops; resolves with the exit code. */
export async function runStart(args: StartArgs): Promise<number> {
  const config = await configFromArgs(args);
  const maxLogBytes = args.logMaxSize !== undefined ? parseSize(args.logMaxSize, '--log-max-size', 'command line') : null;
  if (args.daemon && process.env[DAEMON_ENV] !== '1') return detach(config);
  // A reload re-reads the same file with the same flags on top, and validates it again.
  const running = await startSupervisor(config, { loadConfig: () => configFromArgs(args), daemon: Boolean(args.daemon), maxLogBytes });
  return running.done;
}

/** The config for these flags: a config file with the flags on top, or an app made of the flags alone. */
export async function configFromArgs(args: StartArgs): Promise<ResolvedConfig> {
  const overrides = appOverrides(args);
  if (args.script !== undefined) {
    if (args.config !== undefined) throw new UsageError('Give either a script or --config, not both.');
    const app = { script: args.script, ...(args.name !== undefined ? { name: args.name } : {}), ...overrides };
    try {
      return resolveConfig({ apps: [app], ...metricsOverride(args, undefined) }, { file: null, baseDir: process.cwd() });
    } catch (error) {
      throw nameTheFlag(error);
    }
  }
  const file = resolve(args.config ?? DEFAULT_CONFIG);
  return loadConfigFile(file, (raw) => {
    const withApps = applyOverrides(raw, overrides, args.name);
    if (typeof withApps !== 'object' || withApps === null) return withApps;
    return { ...withApps, ...metricsOverride(args, (withApps as { metrics?: unknown }).metrics) };
  });
}

/** --metrics-port / --metrics-host on top of the file's `metrics` (if any). */
function metricsOverride(args: StartArgs, fromFile: unknown): { metrics?: unknown } {
  if (args.metricsPort === undefined && args.metricsHost === undefined) return {};
  const base = typeof fromFile === 'object' && fromFile !== null ? fromFile : {};
  return {
    metrics: {
      ...base,
      ...(args.metricsPort !== undefined ? { port: args.metricsPort } : {}),
      ...(args.metricsHost !== undefined ? { host: args.metricsHost } : {}),
    },
  };
}

/** Flags that override every app's settings (only those given on the command line). */
function appOverrides(args: StartArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (args.instances !== undefined) out.instances = parseInstances(args.instances);
  if (args.env !== undefined) out.env = parseEnv(args.env);
  if (args.nodeArgs !== undefined) out.nodeArgs = args.nodeArgs.split(/\s+/).filter(Boolean);
  if (args.killTimeout !== undefined) out.killTimeout = args.killTimeout;
  if (args.listenTimeout !== undefined) out.listenTimeout = args.listenTimeout;
  if (args.waitReady !== undefined) out.waitReady = args.waitReady;
  if (args.jsonLogs !== undefined) out.jsonLogs = args.jsonLogs;
  if (args.maxMemory !== undefined) out.maxMemory = args.maxMemory;
  if (args.heartbeatTimeout !== undefined) out.heartbeatTimeout = args.heartbeatTimeout;
  if (args.watch !== undefined || args.ignore !== undefined) {
    const paths = (args.watch ?? []).filter(Boolean).map((path) => resolve(path));
    out.watch = { ...(paths.length > 0 ? { paths } : {}), ...(args.ignore ? { ignore: args.ignore } : {}) };
  }
  if (args['--'] !== undefined && args['--'].length > 0) out.args = args['--'].map(String);
  return out;
}

function applyOverrides(raw: unknown, overrides: Record<string, unknown>, only: string | undefined): unknown {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { apps?: unknown }).apps)) return raw;
  let apps = (raw as { apps: unknown[] }).apps;
  if (only !== undefined) {
    apps = apps.filter((app) => typeof app === 'object' && app !== null && (app as { name?: unknown }).name === only);
    if (apps.length === 0) {
      const names = (raw as { apps: Array<{ name?: unknown }> }).apps.map((app) => app?.name).filter(Boolean);
      throw new UsageError(`No app named '${only}' in the config file. Apps: ${names.join(', ') || '(none named)'}.`);
    }
  }
  return {
    ...(raw as object),
    apps: apps.map((app) => {
      if (typeof app !== 'object' || app === null) return app;
      const env = overrides.env ? { ...((app as { env?: object }).env ?? {}), ...(overrides.env as object) } : undefined;
      return { ...app, ...overrides, ...(env ? { env } : {}) };
    }),
  };
}

function parseInstances(value: string): unknown {
  const trimmed = value.trim();
  return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env expects KEY=VALUE, got '${pair}'. Example: --env PORT=3000`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

// On the command line, `apps[0].killTimeout` is the --kill-timeout flag: say so.
function nameTheFlag(error: unknown): unknown {
  if (!(error instanceof ConfigInvalidError)) return error;
  const key = /^apps\[0\]\.(\w+)/.exec(error.keyPath)?.[1];
  if (!key) return error;
  const flag = key === 'args' ? 'the arguments after --' : key === 'script' ? 'the script argument' : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return new ConfigInvalidError(error.keyPath, error.message.replace(` at ${error.keyPath}:`, ` at ${flag}:`));
}

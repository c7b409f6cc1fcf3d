// `nsup start [script]`: load the config (file or flags) and supervise in the foreground.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { CommandModule } from './index.ts';

/** Flags of `nsup start`, declared as data. */
export const startOptions = {
  instances: { alias: 'i', type: 'string', description: "workers: 'max' (CPUs this process may use), -1 (max-1) or N [default: max]" },
  name: { alias: 'n', type: 'string', description: 'app name (with a config file: start only this app)' },
  config: { alias: 'c', type: 'string', description: 'config file [default: ./supervisor.config.ts when no script is given]' },
  env: { type: 'string', array: true, description: 'KEY=VALUE for the workers (repeatable)' },
  'node-args': { type: 'string', description: 'arguments for node in each worker, e.g. "--max-old-space-size=512"' },
  'kill-timeout': { type: 'string', description: "drain time before SIGKILL, e.g. '5s' [default: 5s]" },
  'listen-timeout': { type: 'string', description: "time for a new worker to listen or call ready() [default: 10s]" },
  watch: { alias: 'w', type: 'string', array: true, description: "rolling reload on file changes; optional paths [default: the script's folder]" },
  ignore: { type: 'string', array: true, description: 'extra glob not to watch (node_modules, .git, dot-files, *.log always are)' },
  'max-memory': { type: 'string', description: "replace a worker (new one first, then drain) above this RSS, e.g. '512MB'" },
  'heartbeat-timeout': { type: 'string', description: "replace a worker whose event loop is blocked this long, e.g. '30s' [default: off]" },
  'metrics-port': { type: 'number', description: 'serve /metrics, /healthz and /readyz from the primary on this port (0: any free port)' },
  'metrics-host': { type: 'string', description: 'interface for --metrics-port [default: 127.0.0.1]' },
  daemon: { alias: 'd', type: 'boolean', description: 'detach: return once every worker is up; logs go to <app>.log in the runtime dir' },
  'log-max-size': { type: 'string', description: "with -d: rotate <app>.log to <app>.log.1 past this size, e.g. '50MB'" },
  'wait-ready': { type: 'boolean', description: 'a worker counts as up only after it calls ready()' },
  'json-logs': { type: 'boolean', description: 'pass worker output lines that are JSON objects through untouched' },
} as const;

/** What the start command receives after parsing. */
export interface StartArgs {
  script?: string;
  instances?: string;
  name?: string;
  config?: string;
  env?: string[];
  nodeArgs?: string;
  killTimeout?: string;
  listenTimeout?: string;
  waitReady?: boolean;
  watch?: string[];
  daemon?: boolean;
  logMaxSize?: string;
  metricsPort?: number;
  maxMemory?: string;
  heartbeatTimeout?: string;
  metricsHost?: string;
  ignore?: string[];
  jsonLogs?: boolean;
  '--'?: Array<string | number>;
}

export const startCommand: CommandModule<StartArgs> = {
  command: 'start [script]',
  describe: 'start a script (or ./supervisor.config.ts) on every CPU, in the foreground',
  builder: (yargs: Argv) =>
    yargs
      .positional('script', { type: 'string', describe: 'the app to run (omit to use the config file)' })
      .options(startOptions)
      .example('$0 start server.js -i max', 'one worker per usable CPU')
      .example('$0 start', 'run the apps of ./supervisor.config.ts')
      .example('$0 start app.js -d', 'detach; then nsup status, nsup logs app, nsup stop app')
      .example('$0 start app.js -i 2 --env PORT=3000 -- --app-flag', 'two workers, env and app arguments'),
  handler: async (args: ArgumentsCamelCase<StartArgs>) => {
    const { runStart } = await import('../run-start.ts');
    return runStart(args);
  },
};

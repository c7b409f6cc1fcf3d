// What users write in supervisor.config.ts, and the resolved (validated, defaulted) form
// the supervisor runs on.

/** A duration: milliseconds, or an `ms` string such as '500ms', '5s', '2m'. */
export type Duration = number | string;

/** Crash-restart policy of one app. */
export interface RestartOptions {
  /** First delay after a failed start; doubles per consecutive failure. Default '100ms'. */
  delay?: Duration;
  /** Cap of the doubling delay. Default '15s'. */
  maxDelay?: Duration;
  /** A worker up at least this long counts as healthy: its next crash restarts at once. Default '30s'. */
  minUptime?: Duration;
  /** Consecutive failed starts after which the app is `errored` (no more restarts). Default Infinity. */
  maxRestarts?: number;
  /** Exit codes that mean "done, do not restart" (PM2's stop_exit_codes): the slot stays empty until a reload, scale or restart. Default []. */
  stopExitCodes?: number[];
}

/** File watching for rolling reloads (used by the reload feature). */
export interface WatchOptions {
  paths?: string[];
  ignore?: string[];
  debounce?: Duration;
}

/** One app: a script run by `instances` cluster workers. */
export interface AppConfig {
  /** App name; default: the script's file name without extension. */
  name?: string;
  /** Path of the script, relative to `cwd` (or to the config file's folder). */
  script: string;
  /** 'max' (CPUs this process may use), -1 (max - 1, at least 1) or a positive integer. Default 'max'. */
  instances?: 'max' | number;
  /** Arguments for the script. */
  args?: string[];
  /** Arguments for node, before the script (e.g. '--max-old-space-size=512'). */
  nodeArgs?: string[];
  /** Working directory of the workers, relative to the config file. Default: the config file's folder. */
  cwd?: string;
  /** Extra environment variables for the workers (above env files, below the chosen named set). */
  env?: Record<string, string | number | boolean>;
  /** Named env sets; `--env production` puts `envs.production` above `env` (PM2's env_production). */
  envs?: Record<string, Record<string, string | number | boolean>>;
  /** Env files (relative to cwd) read with Node's util.parseEnv, in order, below `env`; re-read at each reload. */
  envFile?: string | string[];
  /** The variable holding each worker's slot (0..n-1). Default 'NODE_APP_INSTANCE' (PM2's instance_var). */
  instanceVar?: string;
  /** A variable each worker gets plus its slot, e.g. 'PORT': worker 0 the base value, worker 1 base+1 (PM2's increment_var). */
  incrementVar?: string;
  /** Rolling reload on file changes. Default false. */
  watch?: boolean | WatchOptions;
  restart?: RestartOptions;
  /** How long a stopping worker may drain before SIGKILL. Default '5s'. */
  killTimeout?: Duration;
  /** How long a new worker may take to listen (or call ready()). Default '10s'. */
  listenTimeout?: Duration;
  /** PM2's name for `readyWhen: 'ready'`. Default false. */
  waitReady?: boolean;
  /**
   * When a new worker counts as up (a reload retires old workers only then). Default 'listening':
   * it listens on every address its generation's workers listen on (or on `listen`, if given).
   * 'ready': it called ready() / process.send('ready'), and gets no connection before. 'online':
   * its process runs (workers without a server: queue consumers, tickers).
   */
  readyWhen?: ReadyWhen;
  /** Addresses a worker must listen on to be up: ports, 'host:port', unix socket paths (relative to cwd). */
  listen?: Array<number | string>;
  /** The signal whose listeners in the app run as its shutdown code, after nsup's drain. Default 'SIGTERM'. */
  killSignal?: 'SIGTERM' | 'SIGINT';
  /** Route every connection of a client (by IP address) to the same worker (socket.io polling, in-memory sessions). Default false. */
  sticky?: boolean;
  /** Modules loaded in the primary before the app's workers fork: `export default function setup({ cluster, app, logger })`, returning an optional dispose function. */
  primary?: string | string[];
  /** How many new workers a rolling reload starts at once. Default 1. */
  reloadBatch?: number;
  /** Log lines as 'text' (default) or 'json' (one object per line; an app's own JSON lines merged with nsup's fields). */
  logFormat?: 'text' | 'json';
  /** Timestamp of each line: 'iso' (default), 'local' (ISO 8601 with the local offset) or 'off' (default under journald). */
  logTime?: 'iso' | 'local' | 'off';
  /** File for stdout and nsup's events (relative to cwd; '/dev/null' discards). Default: `<app>.log` in the runtime dir with -d. */
  logFile?: string;
  /** File for stderr (relative to cwd; '/dev/null' discards). Default: the logFile. */
  errorFile?: string;
  /** Rotation of the log files: false (logrotate + SIGUSR2), or size (default '10MB'), every ('1d', '12h'), keep (10), compress (false). */
  logRotate?: false | { size?: number | string; every?: string; keep?: number; compress?: boolean };
  /** IPC encoding of messages between workers: 'json', or 'advanced' (Map, Set, Buffer, BigInt, Date survive). Default 'json'. */
  serialization?: 'json' | 'advanced';
  /** Replace a worker whose event loop is blocked this long ('30s'), or 'off' (default). */
  heartbeatTimeout?: Duration | 'off' | false;
  /** Replace a worker whose RSS grows above this ('512MB' or bytes). */
  maxMemory?: number | string;
  /** Scheduled jobs: each due tick runs once for the whole app, as its own short-lived process (docs/jobs.md). */
  jobs?: JobConfig[];
  /** Exactly one worker that must never run twice (a queue consumer, a lock holder): a reload stops the old worker before starting the new one. Default false. */
  singleton?: boolean;
  /** Replace a worker (rolling, one at a time) once it served this many requests (WebSockets and event streams count), or 'off' (default). */
  maxRequests?: number | 'off';
  /** Up to this many requests more, drawn per worker, so that workers are not all replaced at once. Default 0. */
  maxRequestsJitter?: number;
  /** A rolling reload on a schedule (a cron expression, or one with its time zone), never a restart. */
  recycle?: string | { schedule: string; timezone?: string };
}

/** A scheduled job of an app. */
export interface JobConfig {
  /** Letters, digits, '.', '_' and '-', starting with a letter; unique within the app. */
  name: string;
  /** A cron expression: 5 fields, or 6 with seconds first ('*\/10 * * * * *'). */
  schedule: string;
  /** An IANA time zone ('Europe/Paris', 'UTC'); default: the supervisor's local time. */
  timezone?: string;
  /** The job's script, relative to the app's cwd. */
  script: string;
  args?: string[];
  /** Node flags of the job's process; default: the app's nodeArgs. */
  nodeArgs?: string[];
  /** Variables above the app's env. */
  env?: Record<string, string>;
  /** SIGTERM past this ('10m'), then SIGKILL after the app's killTimeout; 'off' (default): no limit. */
  timeout?: Duration | 'off';
  /** A tick due while the previous run still runs: 'skip' it (default) or 'queue' it. */
  overlap?: 'skip' | 'queue';
}

/** A job after validation. */
export interface ResolvedJob {
  name: string;
  schedule: string;
  timezone: string | null;
  /** Absolute path of the script. */
  script: string;
  args: string[];
  nodeArgs: string[];
  env: Record<string, string>;
  timeoutMs: number | null;
  overlap: 'skip' | 'queue';
}

/** Primary-side metrics and health endpoints. */
export interface MetricsOptions {
  port?: number;
  host?: string;
  /** Serve the live dashboard at `/` on this port (default false; docs/dashboard.md). */
  dashboard?: boolean;
}

/** The whole config file. */
export interface UserConfig {
  apps: AppConfig[];
  metrics?: MetricsOptions;
}

/** Identity function that gives supervisor.config.ts type checking and editor completion. */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

/** When a new worker counts as up. */
export type ReadyWhen = 'listening' | 'ready' | 'online';

/** An app after validation: every default filled in, durations in ms, paths absolute. */
export interface ResolvedApp {
  name: string;
  /** Absolute path of the script. */
  script: string;
  /** Resolved worker count and where the number came from (for the log). */
  instances: number;
  instancesSource: string;
  args: string[];
  nodeArgs: string[];
  /** Absolute working directory. */
  cwd: string;
  /** The workers' env from every layer above the supervisor's own (env files < env < the named set < --env KEY=VALUE); may hold secrets, never printed. */
  env: Record<string, string>;
  /** The named set (envs) this app runs with, or null. */
  envSet: string | null;
  /** Absolute paths of the env files read, in order. */
  envFiles: string[];
  /** The variable holding the worker's slot. */
  instanceVar: string;
  /** The variable set to base + slot, and its base. */
  incrementVar: { name: string; base: number } | null;
  watch: { paths: string[]; ignore: string[]; debounceMs: number } | null;
  restart: { delayMs: number; maxDelayMs: number; minUptimeMs: number; maxRestarts: number; stopExitCodes: number[] };
  killTimeoutMs: number;
  listenTimeoutMs: number;
  readyWhen: ReadyWhen;
  /** Addresses as listens are reported: ':3000', 'host:3000', or an absolute socket path. */
  listen: string[];
  killSignal: 'SIGTERM' | 'SIGINT';
  sticky: boolean;
  /** Absolute paths of the app's primary hooks. */
  primary: string[];
  reloadBatch: number;
  logs: LogOptions;
  serialization: 'json' | 'advanced';
  heartbeatTimeoutMs: number | null;
  maxMemoryBytes: number | null;
  jobs: ResolvedJob[];
  singleton: boolean;
  /** null: off. */
  maxRequests: number | null;
  maxRequestsJitter: number;
  recycle: { schedule: string; timezone: string | null } | null;
}

/** An app's logging, validated. */
export interface LogOptions {
  format: 'text' | 'json';
  /** null: the default for where the line goes ('iso'; 'off' under journald). */
  time: 'iso' | 'local' | 'off' | null;
  /** Absolute path of the stdout (and events) file, or null for the default (`<app>.log` in the runtime dir with -d, none in the foreground). */
  file: string | null;
  /** Absolute path of the stderr file, or null: the same as `file`. */
  errorFile: string | null;
  /** null: no rotation by nsup (logrotate's job; SIGUSR2 reopens). */
  rotate: { sizeBytes: number; every: string | null; keep: number; compress: boolean } | null;
}

/** The validated config the supervisor runs on. */
export interface ResolvedConfig {
  /** Absolute path of the config file, or null when the app came from CLI flags alone. */
  file: string | null;
  apps: ResolvedApp[];
  metrics: { port: number; host: string; dashboard: boolean } | null;
  /** Keys of a PM2 ecosystem file that nsup maps differently or ignores (logged as `config.pm2-key` at start); absent for nsup's own format. */
  warnings?: readonly ConfigWarning[];
}

/** One line about a key of another tool's config (a PM2 ecosystem file) that nsup maps differently or ignores. */
export interface ConfigWarning {
  /** Key path in that file, e.g. 'apps[0].exec_mode'. */
  key: string;
  /** The whole line: file name, key path, what nsup does instead. */
  message: string;
}

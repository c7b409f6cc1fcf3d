// The table of PM2 app keys (PM2's lib/API/schema.json, aliases included) and what each becomes in
// nsup's config: one handler per key, dispatched by name (pm2.ts walks an app through it). A
// handler sets nsup keys, warns when nsup does it differently, or refuses what cannot work; keys
// nsup has no use for are listed in IGNORED with the reason the warning gives.
import { basename, extname } from 'node:path';
import { resolveInstances, type CpuProbeOptions } from '../cpus.ts';

/** What a handler may do with one PM2 app (pm2.ts implements it for each app). */
export interface Pm2App {
  /** The PM2 app object as written. */
  readonly pm2: Readonly<Record<string, unknown>>;
  readonly cpuProbe: CpuProbeOptions | undefined;
  /** Set an nsup key (a path inside the app, e.g. ['restart', 'minUptime']), recording which PM2 key it came from. */
  set(path: string[], value: unknown, from: string): void;
  /** The nsup value set so far at this path. */
  get(path: string[]): unknown;
  /** One warning line about this PM2 key: it is mapped differently, or ignored. */
  warn(key: string, message: string): void;
  /** Refuse the file: this key cannot work under nsup (a ConfigInvalidError naming it). */
  refuse(key: string, detail: string): never;
}

type Handler = (value: unknown, app: Pm2App, key: string) => void;

/** PM2's other names for its keys (schema.json `alias`), mapped to the name the handlers know. */
export const ALIASES: Readonly<Record<string, string>> = {
  exec: 'script',
  interpreter: 'exec_interpreter',
  interpreter_args: 'node_args',
  interpreterArgs: 'node_args',
  out: 'out_file',
  output: 'out_file',
  out_log: 'out_file',
  error: 'error_file',
  err: 'error_file',
  err_file: 'error_file',
  err_log: 'error_file',
  log: 'log_file',
  combine_logs: 'merge_logs',
  cron: 'cron_restart',
  user: 'uid',
};

/** PM2 keys nsup has no equivalent for: each gets a warning with this reason, and is otherwise ignored. */
export const IGNORED: Readonly<Record<string, string>> = {
  namespace: 'nsup has no namespaces: commands take an app name or all',
  vizion: 'nsup keeps no version metadata',
  name_prefix: 'nsup uses the name as given',
  filter_env: "workers always inherit the supervisor's environment (set the variables they need in env)",
  append_env_to_name: 'the name stays as given whatever --env chooses',
  force: 'nsup refuses to start an app whose name is already running (stop it first, or reload it)',
  pid_file: 'nsup writes no pid files: nsup status --json lists every pid',
  kill_retry_time: 'nsup sends SIGKILL once, at killTimeout',
  windowsHide: 'nsup runs on Linux and macOS',
  watch_options: "nsup's watcher takes watch.paths, watch.ignore and watch.debounce only",
  post_update: 'nsup runs no commands after updates (see the nsup deploy command)',
  install_url: 'nsup installs nothing',
  execute_command: 'nsup runs Node scripts only',
  write: 'nsup ignores it',
  uid: 'workers run as the user that runs nsup (nsup startup systemd --run-as <user> sets it for a service)',
  gid: 'workers run as the group of the user that runs nsup',
  username: 'workers run as the user that runs nsup',
  pmx: 'PM2/Keymetrics monitoring: nsup serves /metrics (metrics.port) instead',
  automation: 'PM2/Keymetrics monitoring: nsup serves /metrics (metrics.port) instead',
  trace: 'PM2/Keymetrics tracing is not part of nsup',
  disable_trace: 'PM2/Keymetrics tracing is not part of nsup',
  v8: 'PM2/Keymetrics monitoring: nsup serves /metrics (metrics.port) instead',
  event_loop_inspector: 'PM2/Keymetrics monitoring: nsup serves /metrics (metrics.port) instead',
  deep_monitoring: 'PM2/Keymetrics monitoring: nsup serves /metrics (metrics.port) instead',
  io: 'PM2/Keymetrics monitoring: nsup serves /metrics (metrics.port) instead',
};

/** The handler of each PM2 key that nsup maps (after ALIASES), in the order apps are converted. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  name: (v, app, key) => {
    if (typeof v !== 'string' || /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)) return app.set(['name'], v, key);
    const safe = v.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'app';
    app.warn(key, `${show(v)} becomes '${safe}' (nsup app names are letters, digits, '.', '_' and '-')`);
    app.set(['name'], safe, key);
  },
  script: (v, app, key) => {
    if (typeof v === 'string' && PACKAGE_MANAGERS.has(basename(v))) {
      app.refuse(key, `${show(v)} runs a package manager or another runtime, whose child process nsup cannot run as cluster workers. Point script at the file it starts (e.g. the "start" script of package.json: script: './server.js').`);
    }
    const ext = typeof v === 'string' ? extname(v).toLowerCase() : '';
    if (NOT_NODE.has(ext)) {
      app.refuse(key, `${show(v)} is not JavaScript (PM2 runs ${ext} files with another interpreter); nsup runs Node.js scripts only. Supervise it with systemd, or point script at a Node.js file.`);
    }
    app.set(['script'], v, key);
  },
  cwd: (v, app, key) => app.set(['cwd'], v, key),
  args: (v, app, key) => app.set(['args'], words(v), key),
  node_args: (v, app, key) => app.set(['nodeArgs'], [...words(v) as unknown[], ...((app.get(['nodeArgs']) as unknown[] | undefined) ?? [])], key),
  exec_interpreter: (v, app, key) => {
    if (typeof v === 'string' && /^node(js)?(\.exe)?$/.test(basename(v))) {
      if (v !== 'node' && v !== process.execPath) app.warn(key, `${show(v)}: workers run on the Node.js that runs nsup (${process.execPath}, ${process.version})`);
      return;
    }
    app.refuse(key, `${show(v)}: nsup runs Node.js scripts only, as cluster workers of the Node.js that runs nsup. Remove the interpreter key (TypeScript runs on Node's type stripping; a loader goes in node_args, e.g. ['--import', 'tsx']), or supervise this app with systemd.`);
  },
  instances: (v, app, key) => {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (n === 0 || (typeof n === 'string' && n.toLowerCase() === 'max')) return app.set(['instances'], 'max', key);
    if (typeof n === 'number' && Number.isInteger(n) && n < -1) {
      const count = Math.max(1, resolveInstances('max', app.cpuProbe).count + n);
      app.warn(key, `${n} (all CPUs but ${-n}) is ${count} on this machine; nsup's instances takes 'max', -1 or a count, so it is written as ${count}`);
      return app.set(['instances'], count, key);
    }
    app.set(['instances'], n, key);
  },
  exec_mode: (v, app, key) => {
    if (v === 'cluster' || v === 'cluster_mode') return;
    if (v === 'fork' || v === 'fork_mode') {
      app.warn(key, `${show(v)} runs as cluster workers under nsup, up once they run (readyWhen: 'online', as in fork mode); they share the app's ports through the primary, and exec_mode: 'cluster' makes reloads wait until new workers listen`);
      return;
    }
    app.refuse(key, `got ${show(v)}; expected 'cluster' or 'fork' (nsup runs every app as cluster workers, so the key can also go).`);
  },
  watch: (v, app, key) => {
    // PM2 watches the app's cwd by default; nsup's default is the script's folder, so say '.'.
    if (v === false) return app.set(['watch'], false, key);
    if (isObject(v)) return app.set(['watch'], v, key); // nsup's own { paths, ignore, debounce }
    const paths = v === true ? ['.'] : typeof v === 'string' ? [v] : v;
    app.set(['watch', 'paths'], paths, key);
  },
  ignore_watch: (v, app, key) => {
    if (!app.pm2.watch) return app.warn(key, 'ignored: watch is off');
    const list = typeof v === 'string' ? [v] : v;
    if (Array.isArray(list) && list.some((p) => typeof p === 'string' && /[\^$\\]|\.\*/.test(p))) {
      app.warn(key, 'nsup matches these as paths and globs (chokidar/picomatch), not as regular expressions: check each one');
    }
    app.set(['watch', 'ignore'], list, key);
  },
  watch_delay: (v, app, key) => (app.pm2.watch ? app.set(['watch', 'debounce'], v, key) : app.warn(key, 'ignored: watch is off')),
  max_memory_restart: (v, app, key) => {
    const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([KMG])?B?\s*$/i.exec(v) : null;
    if (typeof v === 'number' || m) return app.set(['maxMemory'], m ? `${m[1]}${(m[2] ?? '').toUpperCase()}B` : v, key);
    app.refuse(key, `got ${show(v)}; expected a size like '300M', '1G', '512K' or a number of bytes.`);
  },
  kill_timeout: (v, app, key) => app.set(['killTimeout'], v, key),
  cron_restart: (v, app, key) => {
    // PM2 takes 0 (or '0') as "no cron restart" (pm2 restart --cron-restart 0 removes one).
    if (v === 0 || v === '0') return;
    app.warn(key, `${show(v)} becomes recycle: a rolling reload on that schedule (new workers up before the old ones drain), never a restart`);
    app.set(['recycle'], v, key);
  },
  listen_timeout: (v, app, key) => {
    app.warn(key, 'a worker not up by then fails its start (a reload rolls back and the old workers keep serving); PM2 takes it as ready and goes on');
    app.set(['listenTimeout'], v, key);
  },
  wait_ready: (v, app, key) => app.set(['waitReady'], v, key),
  shutdown_with_message: (v, app, key) => {
    if (v !== true) return;
    app.warn(key, "nsup stops a worker with its drain, then runs the app's SIGINT listeners; it sends no 'shutdown' message: move that handler to onShutdown() from nsup/worker, or to process.on('SIGINT')");
  },
  min_uptime: (v, app, key) => app.set(['restart', 'minUptime'], v, key),
  max_restarts: (v, app, key) => app.set(['restart', 'maxRestarts'], v, key),
  restart_delay: (v, app, key) => {
    if (app.pm2.exp_backoff_restart_delay !== undefined) return app.warn(key, 'ignored: exp_backoff_restart_delay is set too (PM2 uses that one)');
    // A fixed delay, as in PM2: nsup's doubling capped at the same value.
    app.set(['restart', 'delay'], v, key);
    app.set(['restart', 'maxDelay'], v, key);
  },
  exp_backoff_restart_delay: (v, app, key) => {
    app.warn(key, 'the first restart delay; nsup doubles it per failed start up to restart.maxDelay (15s), where PM2 multiplies by 1.5');
    app.set(['restart', 'delay'], v, key);
  },
  autorestart: (v, app, key) => {
    if (v !== false) return;
    app.warn(key, 'false: an exit with code 0 is done (restart.stopExitCodes), a failed start is not retried (restart.maxRestarts: 0); a worker that crashes after restart.minUptime is still restarted');
    app.set(['restart', 'stopExitCodes'], [...new Set([0, ...codes(app.get(['restart', 'stopExitCodes']))])], key);
    app.set(['restart', 'maxRestarts'], 0, key);
  },
  stop_exit_codes: (v, app, key) => app.set(['restart', 'stopExitCodes'], [...new Set([...codes(app.get(['restart', 'stopExitCodes'])), ...(Array.isArray(v) ? v : [v])])], key),
  out_file: (v, app, key) => app.set(['logFile'], v, key),
  error_file: (v, app, key) => app.set(['errorFile'], v, key),
  log_file: (v, app, key) => {
    if (app.pm2.out_file !== undefined || app.pm2.error_file !== undefined) {
      return app.warn(key, 'ignored: nsup writes stdout to out_file and stderr to error_file, and no third, combined file');
    }
    if (v === true) return app.warn(key, 'true: nsup writes <app>.log in its runtime dir with -d (combined), or set a path');
    if (v === false) return;
    app.set(['logFile'], v, key);
  },
  disable_logs: (v, app, key) => {
    if (v !== true) return;
    app.set(['logFile'], '/dev/null', key);
    app.set(['errorFile'], '/dev/null', key);
  },
  merge_logs: (v, app, key) => {
    if (v === false) app.warn(key, 'false: nsup writes one file for every worker (each line names its worker), as merge_logs: true does');
  },
  log_date_format: (v, app, key) => {
    const utc = typeof v === 'string' && /\[Z\]/.test(v);
    app.warn(key, `nsup writes ISO 8601 times, not ${show(v)}: written as logTime: '${utc ? 'iso' : 'local'}' (${utc ? 'UTC' : 'local time with its offset'})`);
    app.set(['logTime'], utc ? 'iso' : 'local', key);
  },
  time: (v, app, key) => {
    if (v === false) app.set(['logTime'], 'off', key);
  },
  log_type: (v, app, key) => (v === 'json' ? app.set(['logFormat'], 'json', key) : app.warn(key, `${show(v)} ignored: nsup's logFormat is 'text' or 'json'`)),
  source_map_support: (v, app, key) => {
    if (v === true) app.set(['nodeArgs'], [...((app.get(['nodeArgs']) as unknown[] | undefined) ?? []), '--enable-source-maps'], key);
  },
  disable_source_map_support: () => {},
  treekill: (v, app, key) => {
    if (v === false) app.warn(key, "false ignored: once a worker exits, nsup stops the processes it left (SIGTERM, then SIGKILL after killTimeout)");
  },
  instance_var: (v, app, key) => app.set(['instanceVar'], v, key),
  increment_var: (v, app, key) => app.set(['incrementVar'], v, key),
  env: (v, app, key) => app.set(['env'], { ...(isObject(v) ? v : {}), ...(isObject(app.get(['env'])) ? (app.get(['env']) as object) : {}) }, key),
  port: (v, app, key) => app.set(['env'], { ...(isObject(app.get(['env'])) ? (app.get(['env']) as object) : {}), PORT: v }, key),
};

// `script` values that are not a script: PM2 finds them in PATH and runs them.
const PACKAGE_MANAGERS = new Set(['npm', 'npx', 'yarn', 'pnpm', 'bun', 'deno', 'node', 'ts-node', 'tsx']);
// Extensions PM2 runs with another interpreter (its resolveInterpreter table).
const NOT_NODE = new Set(['.sh', '.bash', '.py', '.rb', '.php', '.pl', '.coffee', '.ls']);

/** PM2's args / node_args: an array, or one string split on spaces (quotes keep a word together). */
function words(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((x: unknown) => (typeof x === 'number' ? String(x) : x));
  if (typeof value !== 'string') return value;
  return [...value.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

function codes(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A PM2 value in a warning: short, quoted like the file wrote it. */
export function show(value: unknown): string {
  const s = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

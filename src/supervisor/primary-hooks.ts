// Primary hooks: the modules an app names in `primary`, loaded in the primary before its first
// workers fork, for libraries with a primary half (@socket.io/cluster-adapter's setupPrimary(),
// prom-client's AggregatorRegistry). A hook's failures are its own: logged with its file and
// stack, counted for status, and never a reason to stop supervising. Hooks are loaded once per
// nsup process: a rolling reload neither re-runs nor disposes them.
import cluster, { type Cluster } from 'node:cluster';
import { relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResolvedApp, ResolvedConfig } from '../config/define.ts';
import type { PrimaryHookStatus } from '../control/types.ts';
import type { Logger } from '../log/logger.ts';

/** The app as a hook sees it: read-only, as configured when nsup started. */
export interface PrimaryHookApp {
  readonly name: string;
  readonly instances: number;
  readonly cwd: string;
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
}

/** What a hook's setup is called with. */
export interface PrimaryHookContext {
  /** node:cluster itself (libraries such as @socket.io/cluster-adapter use it directly too). */
  cluster: Cluster;
  app: PrimaryHookApp;
  /** nsup's logger, as a child with `{ hook: file, app: name }`. */
  logger: Logger;
}

/** Called once when nsup stops (after the workers are gone); a second at most. */
export type PrimaryHookDispose = () => void | Promise<void>;

/** A hook module's default export (or its `setup` method). */
export type PrimaryHookSetup = (context: PrimaryHookContext) => void | PrimaryHookDispose | Promise<void | PrimaryHookDispose>;

// How long the workers wait for a hook's import and setup before they fork anyway.
const SETUP_WAIT_MS = 10_000;
// A dispose function gets this long before nsup stops waiting for it.
const DISPOSE_MS = 1000;
// A hook that throws on every message logs at most one line per this interval (with the count).
const LOG_INTERVAL_MS = 1000;

/** Where a hook's error came from. */
type Stage = 'import' | 'setup' | 'uncaughtException' | 'unhandledRejection' | 'dispose';

interface HookRecord {
  app: string;
  file: string;
  /** How the file shows in stacks: the ESM loader names it by URL, the CJS one by path. */
  url: string;
  /** The file relative to the app's cwd, for messages: './cluster-setup.js'. */
  shown: string;
  state: PrimaryHookStatus['state'];
  error: string | null;
  failures: number;
  dispose: PrimaryHookDispose | null;
  logger: Logger;
  lastLoggedAt: number;
  unlogged: number;
}

/** The registry of every app's primary hooks: loads them, attributes their errors, disposes them. */
export class PrimaryHooks {
  private readonly logger: Logger;
  private readonly records: HookRecord[] = [];
  /** Apps whose hooks were installed (with or without any), and the `primary` last warned about per app. */
  private readonly apps = new Set<string>();
  private readonly warnedChange = new Map<string, string>();
  private disposing: Promise<void> | null = null;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Load every app's hooks, in config order; resolves when each set up, failed, or ran out of SETUP_WAIT_MS. */
  async install(apps: readonly ResolvedApp[]): Promise<void> {
    for (const app of apps) {
      this.apps.add(app.name);
      for (const file of app.primary) await this.load(app, file);
    }
  }

  /** An app's hooks for `nsup status`. */
  status(app: string): PrimaryHookStatus[] {
    return this.records.filter((r) => r.app === app).map(({ file, state, error, failures }) => ({ file, state, error, failures }));
  }

  /**
   * An uncaught error (or rejection) whose stack names a hook's file is that hook's: logged as
   * `primary.hook-error` and counted for status. Returns whether it was a hook's (then it does not
   * count towards nsup giving up).
   */
  claim(error: unknown, origin: 'uncaughtException' | 'unhandledRejection'): boolean {
    const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : null;
    if (stack === null) return false;
    // The innermost frame that is a hook's wins (a hook calling another hook's helper).
    let best: { record: HookRecord; at: number } | null = null;
    for (const record of this.records) {
      const at = firstMention(stack, record);
      if (at >= 0 && (best === null || at < best.at)) best = { record, at };
    }
    if (best === null) return false;
    this.failed(best.record, error, origin);
    return true;
  }

  /** A reload read a config whose `primary` differs from the loaded hooks: say it takes a restart (once per change). */
  warnIfChanged(config: ResolvedConfig): void {
    for (const app of config.apps) {
      // An app added to the file is not running: the reload's apps-changed warning covers it.
      if (!this.apps.has(app.name)) continue;
      const loaded = this.records.filter((r) => r.app === app.name).map((r) => r.file);
      const configured = app.primary.join('\n');
      if (configured === loaded.join('\n')) {
        this.warnedChange.delete(app.name);
        continue;
      }
      if (this.warnedChange.get(app.name) === configured) continue;
      this.warnedChange.set(app.name, configured);
      this.logger.warn(
        { event: 'primary.hooks-changed', app: app.name, loaded, configured: app.primary },
        `${app.name}: the config now names primary hooks ${list(app.primary, app.cwd)} (running: ${list(loaded, app.cwd)}); hooks load only when nsup starts and a reload keeps the running ones: restart nsup to load the new ones`,
      );
    }
  }

  /** Call every dispose function, last loaded first, each bounded by DISPOSE_MS; idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const record of [...this.records].reverse()) await this.runDispose(record);
    })();
    return this.disposing;
  }

  // Import the module, find its setup, call it; bounded: the app's workers never wait for a hook for long.
  private async load(app: ResolvedApp, file: string): Promise<void> {
    const record: HookRecord = {
      app: app.name,
      file,
      url: pathToFileURL(file).href,
      shown: shownPath(file, app.cwd),
      state: 'loading',
      error: null,
      failures: 0,
      dispose: null,
      logger: this.logger.child({ hook: file, app: app.name }),
      lastLoggedAt: 0,
      unlogged: 0,
    };
    this.records.push(record);
    const started = Date.now();
    let stage: Stage = 'import';
    const run = (async () => {
      const namespace: unknown = await import(record.url);
      stage = 'setup';
      const setup = setupOf(namespace, record.shown);
      return await setup({ cluster, app: describeApp(app), logger: record.logger });
    })();
    const settled = run.then(
      (result) => this.loaded(record, result, Date.now() - started),
      (error: unknown) => {
        record.state = 'failed';
        this.failed(record, error, stage);
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const slow = await Promise.race([settled.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, SETUP_WAIT_MS, true)))]);
    clearTimeout(timer);
    if (slow) {
      this.logger.warn(
        { event: 'primary.hook-slow', app: app.name, file, waitedMs: SETUP_WAIT_MS },
        `${app.name}: primary hook ${record.shown} has not finished its setup after ${SETUP_WAIT_MS / 1000}s; its workers start now without waiting for it (it keeps running)`,
      );
    }
  }

  private loaded(record: HookRecord, result: unknown, durationMs: number): void {
    record.state = 'loaded';
    if (typeof result === 'function') record.dispose = result as PrimaryHookDispose;
    else if (result !== undefined && result !== null) {
      record.logger.warn({ event: 'primary.hook-result', file: record.file }, `${record.app}: primary hook ${record.shown}: setup returned ${typeof result}, not a function: nothing will be called when nsup stops`);
    }
    this.logger.info({ event: 'primary.hook-loaded', app: record.app, file: record.file, durationMs, dispose: record.dispose !== null }, `${record.app}: primary hook ${record.shown} loaded (${durationMs}ms)`);
    // Its setup finished after the stop began: it is disposed at once.
    if (this.disposing) void this.runDispose(record);
  }

  private async runDispose(record: HookRecord): Promise<void> {
    const dispose = record.dispose;
    if (!dispose) return;
    record.dispose = null;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, DISPOSE_MS, 'late')));
    try {
      const outcome = await Promise.race([Promise.resolve().then(dispose), bound]);
      if (outcome === 'late') {
        record.logger.warn({ event: 'primary.hook-dispose-slow', file: record.file }, `${record.app}: primary hook ${record.shown}: dispose still runs after ${DISPOSE_MS / 1000}s; nsup stops without waiting for it`);
      }
    } catch (error) {
      this.failed(record, error, 'dispose');
    } finally {
      clearTimeout(timer);
    }
  }

  // Count it for status; log it (at most once a second per hook, with how many were not logged).
  private failed(record: HookRecord, error: unknown, stage: Stage): void {
    record.failures++;
    record.error = firstLine(error);
    const now = Date.now();
    if (now - record.lastLoggedAt < LOG_INTERVAL_MS) {
      record.unlogged++;
      return;
    }
    const suppressed = record.unlogged;
    record.lastLoggedAt = now;
    record.unlogged = 0;
    const stack = error instanceof Error ? (error.stack ?? String(error)) : String(error);
    const more = suppressed > 0 ? ` (${suppressed} more errors of this hook since the last line)` : '';
    this.logger.error(
      { event: 'primary.hook-error', app: record.app, file: record.file, stage, error: record.error, stack, failures: record.failures, suppressed },
      `${record.app}: primary hook ${record.shown} failed (${STAGE_TEXT[stage]}): ${record.error}${more}; ${CONSEQUENCE[stage]}`,
    );
  }
}

const STAGE_TEXT: Record<Stage, string> = {
  import: 'importing it',
  setup: 'in its setup',
  uncaughtException: 'uncaught exception in a listener or timer of it',
  unhandledRejection: 'unhandled rejection in it',
  dispose: 'in its dispose',
};

const CONSEQUENCE: Record<Stage, string> = {
  import: "it does not run; the app's workers start without it. Fix it and restart nsup (a reload does not load hooks)",
  setup: "it does not run (what it set up before throwing stays); the app's workers start without it. Fix it and restart nsup (a reload does not load hooks)",
  uncaughtException: 'contained: supervising goes on (a hook\'s errors never make nsup give up)',
  unhandledRejection: 'contained: supervising goes on (a hook\'s errors never make nsup give up)',
  dispose: 'stopping goes on',
};

/** The setup function of a hook module: ESM default export, CJS module.exports (or its .default), or an object with setup(). */
function setupOf(namespace: unknown, shown: string): PrimaryHookSetup {
  const candidates: unknown[] = [];
  let value: unknown = (namespace as { default?: unknown } | null)?.default;
  // CJS compiled from ESM: module.exports = { default: fn } (or { default: { setup } }).
  for (let depth = 0; depth < 3 && value !== undefined && value !== null; depth++) {
    candidates.push(value);
    if (typeof value === 'function') return value as PrimaryHookSetup;
    const object = value as { setup?: unknown; default?: unknown };
    if (typeof object.setup === 'function') return object.setup.bind(object) as PrimaryHookSetup;
    value = object.default;
  }
  const got = candidates.length === 0 ? 'no default export' : `a default export of type ${typeof candidates[0]}`;
  throw new TypeError(
    `primary hook ${shown} has ${got}; it must export a setup function: export default function setup({ cluster, app, logger }) { … } (CommonJS: module.exports = function setup(…) { … }), or an object with a setup method`,
  );
}

function describeApp(app: ResolvedApp): PrimaryHookApp {
  return Object.freeze({ name: app.name, instances: app.instances, cwd: app.cwd, script: app.script, env: Object.freeze({ ...app.env }) });
}

// Where the hook's file is first named in a stack (as a URL or a path followed by a frame's ':line'), or -1.
function firstMention(stack: string, record: HookRecord): number {
  const at = [stack.indexOf(`${record.url}:`), stack.indexOf(`${record.file}:`)].filter((i) => i >= 0);
  return at.length === 0 ? -1 : Math.min(...at);
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split(/\r?\n/).find((line) => line.trim() !== '')?.trim() ?? text;
}

function shownPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel.startsWith('..') || rel === '' ? file : `.${sep}${rel}`;
}

function list(files: readonly string[], cwd: string): string {
  return files.length === 0 ? 'none' : files.map((f) => shownPath(f, cwd)).join(', ');
}

// Turns reload requests (SIGHUP, file changes, the control socket) into rolling reloads: re-reads
// and validates the config first (or takes the one `nsup deploy` validated and sent), runs one
// reload at a time, and coalesces requests that arrive meanwhile into at most one more reload
// afterwards. Once the last one is done, the primary gives the memory it freed back to the system.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ResolvedApp, ResolvedConfig } from '../config/define.ts';
import { NsupError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { ReloadResult } from './model.ts';
import type { Supervisor } from './supervisor.ts';

/** Re-read the config the supervisor was started with (file and flags); throws NsupError when invalid. */
export type ConfigSource = () => Promise<ResolvedConfig>;

interface Pending {
  triggers: Set<string>;
  waiters: Array<(results: ReloadResult[]) => void>;
  /** The app's config to roll onto, given with the request (nsup deploy); null: re-read the config source. The latest given wins. */
  config: ResolvedApp | null;
}

/** Serialises and coalesces reloads of a supervisor's apps. */
export class ReloadController {
  private readonly pending = new Map<string, Pending>();
  private running: Promise<void> | null = null;
  private readonly supervisor: Supervisor;
  private readonly loadConfig: ConfigSource;
  private readonly logger: Logger;

  private readonly onBusy: (busy: boolean) => void;
  private readonly prepare: (apps: readonly ResolvedApp[]) => void;
  private readonly afterReloads: () => void;

  constructor(options: {
    supervisor: Supervisor;
    loadConfig: ConfigSource;
    logger: Logger;
    onBusy?: (busy: boolean) => void;
    /** Called with the apps' new configs before they are rolled onto (log options, primary-hook warnings). */
    prepare?: (apps: readonly ResolvedApp[]) => void;
    /** Called once the last queued reload is done and the replies are out; default: returnFreedMemory. */
    afterReloads?: () => void;
  }) {
    this.supervisor = options.supervisor;
    this.loadConfig = options.loadConfig;
    this.logger = options.logger;
    this.onBusy = options.onBusy ?? (() => {});
    this.prepare = options.prepare ?? (() => {});
    this.afterReloads = options.afterReloads ?? returnFreedMemory;
  }

  /**
   * Reload these apps (or all); resolves with one result per app once their reload ran. `configs`
   * (nsup deploy) gives an app's new config, validated by the caller: it is rolled onto as given
   * instead of re-reading the config source.
   */
  request(apps: string[] | 'all', trigger: string, configs?: ReadonlyMap<string, ResolvedApp>): Promise<ReloadResult[]> {
    const names = apps === 'all' ? [...this.supervisor.apps.keys()] : apps;
    const promise = new Promise<ReloadResult[]>((resolve) => {
      let results: ReloadResult[] = [];
      let left = names.length;
      if (left === 0) resolve([]);
      for (const name of names) {
        const entry = this.pending.get(name) ?? { triggers: new Set(), waiters: [], config: null };
        entry.config = configs?.get(name) ?? entry.config;
        if (this.running && this.pending.has(name)) {
          this.logger.info({ event: 'reload.coalesced', app: name, trigger }, `${name}: reload (${trigger}) joins the one already queued`);
        }
        entry.triggers.add(trigger);
        entry.waiters.push((r) => {
          results = results.concat(r);
          if (--left === 0) resolve(results);
        });
        this.pending.set(name, entry);
      }
    });
    if (!this.running) {
      this.onBusy(true);
      this.running = this.drain().finally(() => {
        this.running = null;
        this.onBusy(false);
        // Not between the reloads of a burst, nor while stopping; after the replies were written.
        setImmediate(() => {
          if (!this.running && !this.supervisor.isStopping) this.afterReloads();
        });
      });
    }
    return promise;
  }

  /** Run queued reloads one app at a time until nothing is queued. */
  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.supervisor.isStopping) {
      const batch = new Map(this.pending);
      this.pending.clear();
      let config: ResolvedConfig | null = null;
      // Apps given their config (nsup deploy) need no read of the file.
      if ([...batch.values()].some((entry) => entry.config === null)) {
        try {
          config = await this.loadConfig();
        } catch (error) {
          const reason = error instanceof NsupError ? `${error.message} [${error.code}]` : String(error);
          this.logger.error({ event: 'reload.config-invalid', reason }, `reload refused: ${reason}; keeping the running config and workers`);
          for (const [name, entry] of batch) {
            if (entry.config !== null) this.requeue(name, entry);
            else for (const w of entry.waiters) w([{ app: name, ok: false, generation: this.supervisor.apps.get(name)?.generation ?? 0, durationMs: 0, reason }]);
          }
          continue;
        }
        this.warnAboutAppSet(config);
      }
      const nextOf = (name: string, entry: Pending): ResolvedApp | undefined =>
        entry.config ?? config?.apps.find((app) => app.name === name) ?? this.supervisor.apps.get(name)?.config;
      this.prepare([...batch].flatMap(([name, entry]) => nextOf(name, entry) ?? []));
      for (const [name, entry] of batch) {
        const next = nextOf(name, entry);
        const result = next
          ? await this.supervisor.reloadApp(name, next, [...entry.triggers].join(', '))
          : { app: name, ok: false, generation: 0, durationMs: 0, reason: `no app named '${name}'` };
        for (const w of entry.waiters) w([result]);
      }
    }
    for (const [name, entry] of this.pending) for (const w of entry.waiters) w([{ app: name, ok: false, generation: 0, durationMs: 0, reason: 'the supervisor is stopping' }]);
    this.pending.clear();
  }

  // Back in the queue, merged with what was asked for that app meanwhile (whose given config is newer).
  private requeue(name: string, entry: Pending): void {
    const later = this.pending.get(name);
    if (later) {
      for (const trigger of later.triggers) entry.triggers.add(trigger);
      entry.waiters.push(...later.waiters);
      entry.config = later.config ?? entry.config;
    }
    this.pending.set(name, entry);
  }

  private warnAboutAppSet(config: ResolvedConfig): void {
    const running = new Set(this.supervisor.apps.keys());
    const added = config.apps.filter((app) => !running.has(app.name)).map((app) => app.name);
    const removed = [...running].filter((name) => !config.apps.some((app) => app.name === name));
    if (added.length > 0 || removed.length > 0) {
      this.logger.warn(
        { event: 'reload.apps-changed', added, removed },
        `the config file now ${added.length ? `adds ${added.join(', ')}` : ''}${added.length && removed.length ? ' and ' : ''}${removed.length ? `no longer has ${removed.join(', ')}` : ''}: a reload only rolls the running apps (removed ones keep their last config); restart nsup to change the set of apps`,
      );
    }
  }
}

let collectGarbage: ((options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void) | null = null;

/**
 * One full garbage collection that returns free heap pages to the system. A reload leaves the old
 * generation's records (workers, loggers, handles, closures) as garbage all at once; left alone,
 * V8 keeps the pages its heap grew to until its memory reducer runs, which a busy primary (handing
 * off connections, forwarding logs) puts off: idle, it took about 40 s. Measured over 1,000
 * back-to-back reloads (docs/benchmarks.md, soak): primary RSS 7-10 MB lower, and its growth from
 * the 100th reload to the 1,000th about 2 MB instead of 5-7. The pause is about 20 ms (13-35 on a
 * shared 2-core machine), once per reload or burst of reloads.
 */
export function returnFreedMemory(): void {
  // The gc() of --expose-gc, got without putting it on this context's globals.
  if (collectGarbage === null) {
    setFlagsFromString('--expose-gc');
    collectGarbage = runInNewContext('gc') as typeof collectGarbage;
  }
  collectGarbage!({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

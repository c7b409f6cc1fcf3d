// Turns reload requests (SIGHUP, file changes, the control socket) into rolling reloads: re-reads
// and validates the config first, runs one reload at a time, and coalesces requests that arrive
// meanwhile into at most one more reload afterwards.
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
}

/** Serialises and coalesces reloads of a supervisor's apps. */
export class ReloadController {
  private readonly pending = new Map<string, Pending>();
  private running: Promise<void> | null = null;
  private readonly supervisor: Supervisor;
  private readonly loadConfig: ConfigSource;
  private readonly logger: Logger;

  private readonly onBusy: (busy: boolean) => void;

  constructor(options: { supervisor: Supervisor; loadConfig: ConfigSource; logger: Logger; onBusy?: (busy: boolean) => void }) {
    this.supervisor = options.supervisor;
    this.loadConfig = options.loadConfig;
    this.logger = options.logger;
    this.onBusy = options.onBusy ?? (() => {});
  }

  /** Reload these apps (or all); resolves with one result per app once their reload ran. */
  request(apps: string[] | 'all', trigger: string): Promise<ReloadResult[]> {
    const names = apps === 'all' ? [...this.supervisor.apps.keys()] : apps;
    const promise = new Promise<ReloadResult[]>((resolve) => {
      let results: ReloadResult[] = [];
      let left = names.length;
      if (left === 0) resolve([]);
      for (const name of names) {
        const entry = this.pending.get(name) ?? { triggers: new Set(), waiters: [] };
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
      try {
        config = await this.loadConfig();
      } catch (error) {
        const reason = error instanceof NsupError ? `${error.message} [${error.code}]` : String(error);
        this.logger.error({ event: 'reload.config-invalid', reason }, `reload refused: ${reason}; keeping the running config and workers`);
        for (const [name, entry] of batch) for (const w of entry.waiters) w([{ app: name, ok: false, generation: this.supervisor.apps.get(name)?.generation ?? 0, durationMs: 0, reason }]);
        continue;
      }
      this.warnAboutAppSet(config);
      for (const [name, entry] of batch) {
        const running = this.supervisor.apps.get(name);
        const next: ResolvedApp | undefined = config.apps.find((app) => app.name === name) ?? running?.config;
        const result = next
          ? await this.supervisor.reloadApp(name, next, [...entry.triggers].join(', '))
          : { app: name, ok: false, generation: 0, durationMs: 0, reason: `no app named '${name}'` };
        for (const w of entry.waiters) w([result]);
      }
    }
    for (const [name, entry] of this.pending) for (const w of entry.waiters) w([{ app: name, ok: false, generation: 0, durationMs: 0, reason: 'the supervisor is stopping' }]);
    this.pending.clear();
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

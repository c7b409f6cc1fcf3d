// The data side of `nsup monit`: polls every live supervisor's status once a second over the
// control socket, follows the selected app's output, and sends reload and scale. It knows nothing
// of the terminal: the view subscribes to its events.
import { EventEmitter } from 'node:events';
import { request } from '../control/client.ts';
import { listSocketFiles } from '../control/runtime-dir.ts';
import type { SupervisorStatus } from '../control/types.ts';
import { AppFollow, type OutputLine } from './follow.ts';
import type { PolledSupervisor } from './rows.ts';

/** How often status is polled: the live figures arrive once a second from each worker. */
export const POLL_MS = 1000;
// Output arriving faster than this is drawn in batches: a chatty app must not make monit spin.
const OUTPUT_BATCH_MS = 250;
// A poll that takes longer is skipped; a supervisor that does not answer in time is left out of that refresh.
const STATUS_TIMEOUT_MS = 900;
// Reloads wait for the whole rolling reload (listen and kill timeouts): generous.
const ACTION_TIMEOUT_MS = 10 * 60_000;

/** One poll's result. */
export interface MonitSnapshot {
  at: number;
  supervisors: PolledSupervisor[];
}

/** The events the view listens to. */
export interface MonitorEvents {
  status: [MonitSnapshot];
  /** New output for the followed app (batched). */
  output: [];
}

/** Polls, follows and acts; start() once, close() once (idempotent). */
export class Monitor extends EventEmitter<MonitorEvents> {
  private readonly dir: string;
  private timer: NodeJS.Timeout | null = null;
  private outputTimer: NodeJS.Timeout | null = null;
  private polling = false;
  private follow: AppFollow | null = null;
  private closed = false;

  constructor(dir: string) {
    super();
    this.dir = dir;
  }

  /** Poll now, then once a second. */
  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  /** Follow `app` of the supervisor at `path` (null: nothing); the previous follow stops. */
  followApp(path: string | null, app: string | null): void {
    if (this.closed) return;
    if (this.follow && this.follow.path === path && this.follow.app === app && this.follow.ended === null) return;
    this.follow?.close();
    this.follow = path !== null && app !== null ? new AppFollow(path, app, () => this.outputArrived()) : null;
  }

  /** The followed app's last `n` records of a worker slot. */
  output(app: string, worker: number, n: number): OutputLine[] {
    return this.follow && this.follow.app === app ? this.follow.of(worker, n) : [];
  }

  /** Why the follow ended by itself, if it did. */
  followEnded(): string | null {
    return this.follow?.ended ?? null;
  }

  /** Rolling reload of `app`; resolves with the one line to show (never rejects). */
  async reload(path: string, app: string): Promise<{ ok: boolean; text: string }> {
    try {
      const reply = (await request(path, 'reload', { app }, { timeoutMs: ACTION_TIMEOUT_MS })) as { results: Array<{ ok: boolean; generation: number; durationMs: number; reason?: string }> };
      const r = reply.results[0];
      if (!r) return { ok: false, text: `${app}: no reload result` };
      return r.ok ? { ok: true, text: `${app}: reloaded to generation ${r.generation} in ${r.durationMs} ms` } : { ok: false, text: `${app}: reload failed: ${r.reason ?? 'unknown reason'}` };
    } catch (error) {
      return { ok: false, text: `${app}: reload failed: ${(error as Error).message}` };
    }
  }

  /** Scale `app` by `delta` workers; resolves with the one line to show (never rejects). */
  async scale(path: string, app: string, delta: number): Promise<{ ok: boolean; text: string }> {
    try {
      const reply = (await request(path, 'scale', { app, delta }, { timeoutMs: ACTION_TIMEOUT_MS })) as { results: Array<{ ok: boolean; message: string }> };
      const r = reply.results[0];
      return r ? { ok: r.ok, text: r.message } : { ok: false, text: `${app}: no scale result` };
    } catch (error) {
      return { ok: false, text: `${app}: scale failed: ${(error as Error).message}` };
    }
  }

  /** Stop polling and following. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.outputTimer) clearTimeout(this.outputTimer);
    this.follow?.close();
    this.follow = null;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      // A readdir and one status request per socket: a supervisor that started since the last
      // poll shows up, one that stopped (its socket refuses) drops out.
      const sockets = listSocketFiles(this.dir);
      const polled = await Promise.all(
        sockets.map(async ({ path }) => {
          const status = (await request(path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null)) as SupervisorStatus | null;
          return status ? { path, status } : null;
        }),
      );
      if (!this.closed) this.emit('status', { at: Date.now(), supervisors: polled.filter((s): s is PolledSupervisor => s !== null) });
    } catch {
      // The runtime dir could not be read: show nothing running rather than crash the view.
      if (!this.closed) this.emit('status', { at: Date.now(), supervisors: [] });
    } finally {
      this.polling = false;
    }
  }

  private outputArrived(): void {
    if (this.outputTimer || this.closed) return;
    this.outputTimer = setTimeout(() => {
      this.outputTimer = null;
      this.emit('output');
    }, OUTPUT_BATCH_MS);
  }
}

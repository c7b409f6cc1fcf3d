// Starts job processes: the JobRunner interface the core runs jobs through (a fake one in tests,
// like the Spawner), and the real one. A run is a plain child process (`node [nodeArgs] script
// [args]`, no IPC, no worker runtime) in the app's cwd and env, in a process group of its own:
// a Ctrl-C to the terminal's group does not reach it, nsup signals the whole group itself (the
// way workers intercept theirs), and what it leaves behind is reaped like a worker's leftovers.
import { spawn, type ChildProcess } from 'node:child_process';
import type { ResolvedApp } from '../config/define.ts';
import type { Logger, Output } from '../log/logger.ts';
import { headOf } from '../log/record.ts';
import { forwardLines } from '../log/worker-output.ts';
import { TOKEN_VAR, TreeReaper } from '../worker/descendants.ts';
import type { JobLedger } from './ledger.ts';
import type { JobRun } from './model.ts';

/** How many lines of a run's output (stdout and stderr together, in order) its result keeps. */
export const JOB_OUTPUT_LINES = 20;
// Each kept line is cut to this many characters: a status shows a tail, not a megabyte.
const OUTPUT_LINE_CHARS = 500;
// How long an exit waits for the output to be read to the end; a grandchild holding the pipes open must not hold it back.
const OUTPUT_FLUSH_MS = 200;

/** Where a run's end goes (the Supervisor enqueues a `job-exit` event). */
export interface JobSink {
  /** The process is gone and its output read (the last JOB_OUTPUT_LINES lines); spawnError: it never started (EAGAIN, ENOENT). */
  exit(code: number | null, signal: string | null, output: string[], spawnError?: string): void;
}

/** A running job process, as the Supervisor drives it. */
export interface JobProcess {
  readonly pid: number | null;
  /** Signal the run's process group (the job and what it spawned). */
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

/** Starts job processes; start() may throw: the Supervisor enqueues a job-exit with spawnError. */
export interface JobRunner {
  start(request: { app: ResolvedApp; run: Readonly<JobRun> }, sink: JobSink): JobProcess;
  /** Resolves once every run that ended has been reported and its leftovers are gone. */
  settle(): Promise<void>;
}

/** The real runner: child processes whose lines go to `output` as records carrying `job`. */
export function processJobRunner(opts: { output: Output; logger: Logger; ledger?: JobLedger }): JobRunner {
  const trees = new TreeReaper();
  // Tokens of our own: the spawner's TreeReaper numbers its workers' tokens `<pid>.<n>` too, and a
  // job's leftovers scan must never take a worker carrying the same token for one of the job's.
  let runs = 0;
  const pending = new Set<Promise<void>>();
  const hold = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  return {
    async settle() {
      while (pending.size > 0) await Promise.all([...pending]);
      await trees.settle();
    },
    start({ app, run }, sink) {
      const job = run.config;
      const token = `${process.pid}.job.${++runs}`;
      const child = spawn(process.execPath, [...job.nodeArgs, job.script, ...job.args], {
        cwd: app.cwd,
        env: { ...jobEnv(app, run), [TOKEN_VAR]: token },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const pid = child.pid ?? null;
      if (pid !== null) trees.track(pid);
      if (run.trigger === 'schedule' && run.tick !== null) opts.ledger?.note(app.name, job, run.tick);
      const tail: string[] = [];
      const onLine = (stream: 'out' | 'err') => (msg: string) => {
        tail.push(msg.length > OUTPUT_LINE_CHARS ? `${headOf(msg, OUTPUT_LINE_CHARS)}…` : msg);
        if (tail.length > JOB_OUTPUT_LINES) tail.shift();
        opts.output.record({ time: Date.now(), app: app.name, job: run.job, ...(pid !== null ? { pid } : {}), stream, msg });
      };
      const closed = Promise.all([forwardLines(child.stdout, onLine('out'), opts.output), forwardLines(child.stderr, onLine('err'), opts.output)]);
      hold(
        new Promise<void>((resolve) => {
          let done = false;
          const report = (code: number | null, signal: string | null, spawnError?: string) => {
            if (done) return;
            done = true;
            if (pid !== null) hold(trees.reap(pid, token, app.killTimeoutMs, (kill, pids) => logLeftovers(opts.logger, app.name, run.job, pid, kill, pids, app.killTimeoutMs)));
            const bound = new Promise((r) => setTimeout(r, OUTPUT_FLUSH_MS).unref());
            void Promise.race([closed, bound]).then(() => {
              sink.exit(code, signal, [...tail], spawnError);
              resolve();
            });
          };
          // A failed spawn (EAGAIN, EMFILE, ENOENT) is an 'error' with no 'exit'; later errors (a failed kill) are not the end.
          child.on('error', (err) => {
            if (pid === null) report(null, null, err.message);
          });
          child.once('exit', (code, signal) => report(code, signal));
        }),
      );
      return {
        pid,
        kill: (signal) => {
          if (pid === null) return;
          trees.snapshot(pid);
          killGroup(child, pid, signal);
        },
      };
    },
  };
}

/** A run's environment: nsup's, the app's (env files and --env included), the job's, then what nsup tells the job. */
export function jobEnv(app: ResolvedApp, run: Pick<JobRun, 'job' | 'config' | 'trigger' | 'tick'>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...app.env,
    ...run.config.env,
    NSUP_APP: app.name,
    NSUP_JOB: run.job,
    NSUP_JOB_TRIGGER: run.trigger,
    NSUP_JOB_TICK: run.tick === null ? undefined : new Date(run.tick).toISOString(),
    // Only the primary talks to systemd; no instanceVar either (a job is not a slot).
    NOTIFY_SOCKET: undefined,
  };
}

/** The whole group (the job leads it: detached); just the process if the group is gone or not ours. */
function killGroup(child: ChildProcess, pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** One log line per round of signals to a run's leftovers (processes that left its group). */
function logLeftovers(logger: Logger, app: string, job: string, pid: number, signal: 'SIGTERM' | 'SIGKILL', pids: number[], killTimeoutMs: number): void {
  const what = `${pids.length} process${pids.length === 1 ? '' : 'es'} (pid ${pids.join(', ')})`;
  const message = signal === 'SIGTERM'
    ? `${app}/${job}: job pid ${pid} exited and left ${what} running: SIGTERM`
    : `${app}/${job}: ${what} left by job pid ${pid} still running ${killTimeoutMs}ms after SIGTERM (killTimeout): SIGKILL`;
  logger[signal === 'SIGTERM' ? 'info' : 'warn']({ event: 'job.leftovers', app, job, pid, signal, pids }, message);
}

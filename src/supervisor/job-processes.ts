// The Supervisor's handles on job processes (issue 16), as `handles` is for workers: the start
// effect goes through the JobRunner, the process's exit (or a failed start) comes back as a
// job-exit event, and the signal effects reach the process by its run's id.
import type { ResolvedApp } from '../config/define.ts';
import type { Logger } from '../log/logger.ts';
import type { JobRun } from '../jobs/model.ts';
import type { JobProcess, JobRunner } from '../jobs/runner.ts';
import type { SupervisorEvent } from './events.ts';

/** Job processes by run id, from their start effect until their exit. */
export class JobProcesses {
  private readonly procs = new Map<number, JobProcess>();
  private readonly runner: JobRunner;
  private readonly enqueue: (event: SupervisorEvent) => void;
  private readonly logger: Logger;

  constructor(runner: JobRunner | undefined, enqueue: (event: SupervisorEvent) => void, logger: Logger) {
    this.runner = runner ?? noJobRunner;
    this.enqueue = enqueue;
    this.logger = logger;
  }

  /** How many job processes are alive. */
  get size(): number {
    return this.procs.size;
  }

  /** Start the run's process and set its pid (the start effect's writer, like a worker's fork). */
  start(app: string, appConfig: ResolvedApp, run: JobRun): void {
    let gone = false;
    const exited = (code: number | null, signal: string | null, output: string[], spawnError?: string) => {
      gone = true;
      this.procs.delete(run.id);
      this.enqueue({ type: 'job-exit', app, job: run.job, run: run.id, code, signal, output, ...(spawnError !== undefined ? { spawnError } : {}) });
    };
    let proc: JobProcess;
    try {
      proc = this.runner.start({ app: appConfig, run }, { exit: exited });
    } catch (error) {
      // EAGAIN, a bad cwd: the run ends as failed, with why, like a worker's failed fork.
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.error({ event: 'job.spawn-failed', app, job: run.job, err: error }, `${app}/${run.job}: could not be started: ${reason}`);
      exited(null, null, [], reason);
      return;
    }
    run.pid = proc.pid;
    // A runner may report an exit from inside start() (a process that could not be spawned after all).
    if (!gone) this.procs.set(run.id, proc);
  }

  /** Signal one run's process (its process group, with processJobRunner). */
  kill(run: JobRun, signal: 'SIGTERM' | 'SIGKILL'): void {
    this.procs.get(run.id)?.kill(signal);
  }

  /** Signal every job process (the Supervisor's abort). */
  killAll(signal: 'SIGTERM' | 'SIGKILL'): void {
    for (const proc of this.procs.values()) proc.kill(signal);
  }
}

// Without a runner (a Supervisor built by hand), a due job fails with why instead of never running.
const noJobRunner: JobRunner = {
  start: () => {
    throw new Error('no job runner (SupervisorOptions.jobRunner) is set up');
  },
  settle: () => Promise.resolve(),
};

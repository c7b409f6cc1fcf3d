// The bodies of the control commands (status, reload, restart, stop, scale, send, run): find the
// supervisor(s) that run an app, send the request, print the answer. Imported lazily.
// (not an ES import of node:fs: see main.ts)
const { readFileSync } = process.getBuiltinModule('node:fs');
import { liveSupervisors, request, type LiveSupervisor } from '../control/client.ts';
import { runtimeDir } from '../control/runtime-dir.ts';
import type { JobResultStatus, StatusDocument, SupervisorStatus } from '../control/types.ts';
import { ControlError, EXIT, UsageError } from '../errors.ts';
import { formatSeconds } from './format-jobs.ts';
import { formatStatus, shouldColor } from './format-status.ts';

const STATUS_TIMEOUT_MS = 5000;
// Reloads, restarts and stops wait for drains (kill timeouts) and listen timeouts: be generous.
const ACTION_TIMEOUT_MS = 10 * 60_000;

/** `nsup status|ls [name] [--json]` */
export async function runStatus(args: { name?: string; json?: boolean }): Promise<number> {
  const doc = await statusDocument();
  const shown = args.name ? { supervisors: doc.supervisors.filter((s) => s.apps.some((a) => a.name === args.name)).map((s) => ({ ...s, apps: s.apps.filter((a) => a.name === args.name) })) } : doc;
  if (args.name && shown.supervisors.length === 0) throw new ControlError(unknownApp(args.name, doc));
  if (args.json) process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
  else if (doc.supervisors.length === 0) process.stdout.write(`nothing is running (no live nsup supervisor in ${runtimeDir()})\n`);
  else process.stdout.write(formatStatus(shown, { color: shouldColor(process.stdout), ...(args.name ? { filter: args.name } : {}) }));
  return EXIT.ok;
}

/** `nsup reload|restart|stop <name|all>`: waits for the result; exit 1 if any app failed. */
export async function runAction(cmd: 'reload' | 'restart' | 'stop', app: string): Promise<number> {
  const targets = await supervisorsFor(app);
  const replies = await Promise.all(targets.map((s) => request(s.path, cmd, { app }, { timeoutMs: ACTION_TIMEOUT_MS }) as Promise<{ results: Array<Result> }>));
  const results = replies.flatMap((r) => r.results);
  for (const result of results) printResult(cmd, result);
  // A supervisor whose last app stopped exits next (after its workers' leftovers and primary
  // hooks): return only once it is gone, so that `nsup stop all && nsup start …` never finds the
  // old one still answering (and refusing the names as running).
  if (cmd === 'stop') await Promise.all(targets.map((s) => untilExited(s)));
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.runtime;
}

// How long `stop` waits for a supervisor that has no app left to exit.
const EXIT_WAIT_MS = 30_000;

/** If `s` has no app left (or no longer answers), wait (bounded) until its process is gone. */
async function untilExited(s: LiveSupervisor): Promise<void> {
  const status = (await request(s.path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null)) as SupervisorStatus | null;
  if (status && status.apps.length > 0) return;
  const deadline = Date.now() + EXIT_WAIT_MS;
  while (alive(s.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  if (alive(s.pid)) process.stderr.write(`nsup: supervisor ${s.pid} stopped its apps but has not exited after ${EXIT_WAIT_MS / 1000} s; see its log\n`);
}

// Running, and not a zombie waiting for its parent (pid 1 may take a while to reap a daemon).
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is all there is
  }
}

/** `nsup scale <name> <N|+N|-N>` */
export async function runScale(app: string, count: string): Promise<number> {
  const match = /^([+-]?)(\d+)$/.exec(count.trim());
  if (!match || app === 'all') throw new UsageError(`nsup scale takes an app name and a count: N, +N or -N (got '${app} ${count}'). Example: nsup scale web +1`);
  const n = Number(match[2]);
  const args = match[1] ? { app, delta: match[1] === '-' ? -n : n } : { app, to: n };
  const [target] = await supervisorsFor(app);
  const reply = (await request(target!.path, 'scale', args, { timeoutMs: ACTION_TIMEOUT_MS })) as { results: Result[] };
  for (const result of reply.results) printResult('scale', result);
  return reply.results.every((r) => r.ok) ? EXIT.ok : EXIT.runtime;
}

/** `nsup send <name> <target> <topic> [json]`: deliver to the workers' on(topic) handlers. */
export async function runSend(app: string, target: string, topic: string, json: string | undefined): Promise<number> {
  if (app === 'all') throw new UsageError('nsup send takes one app name');
  if (target !== 'all' && !/^\d+$/.test(target)) throw new UsageError(`nsup send: target must be a worker id (0, 1, …) or 'all', got '${target}'`);
  let data: unknown;
  if (json !== undefined) {
    try {
      data = JSON.parse(json);
    } catch (error) {
      throw new UsageError(`nsup send: the data is not valid JSON (${(error as Error).message}). Quote it for the shell, e.g. '{"n": 1}'`);
    }
  }
  const [supervisor] = await supervisorsFor(app);
  const reply = (await request(supervisor!.path, 'send', { app, target, topic, data }, { timeoutMs: STATUS_TIMEOUT_MS })) as { delivered: number[] };
  process.stdout.write(`${app}: '${topic}' delivered to ${reply.delivered.length} worker${reply.delivered.length === 1 ? '' : 's'} (pid ${reply.delivered.join(', ')})\n`);
  return EXIT.ok;
}

// A job without a timeout may run for long: `nsup run` waits up to a day for it.
const UNBOUNDED_JOB_WAIT_MS = 24 * 3600_000;
// Above the job's timeout and its kill timeout: starting it, and answering, take a moment.
const JOB_WAIT_MARGIN_MS = 30_000;

/** `nsup run <app> <job> [--json]`: run the job now, wait for it, print its result; exit 0 iff it succeeded. */
export async function runJobNow(app: string, job: string, opts: { json?: boolean } = {}): Promise<number> {
  if (app === 'all') throw new UsageError(`nsup run takes one app name and one of its jobs (got 'all ${job}'). Example: nsup run web backup`);
  const [target] = await supervisorsFor(app);
  const status = (await request(target!.path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS })) as SupervisorStatus;
  const found = status.apps.find((a) => a.name === app);
  const jobs = found?.jobs ?? [];
  const config = jobs.find((j) => j.name === job);
  if (found && !config) throw new UsageError(`${app} has no job '${job}' (jobs: ${jobs.map((j) => j.name).join(', ') || 'none: add some with the app\'s `jobs` key, see docs/jobs.md'})`);
  const killTimeoutMs = found?.limits?.killTimeoutMs ?? 5000;
  const timeoutMs = config?.timeoutMs == null ? UNBOUNDED_JOB_WAIT_MS : config.timeoutMs + killTimeoutMs + JOB_WAIT_MARGIN_MS;
  let reply: { result: JobResultStatus };
  try {
    reply = (await request(target!.path, 'run', { app, job }, { timeoutMs })) as { result: JobResultStatus };
  } catch (error) {
    // The supervisor's usage errors (an unknown job: its list of jobs) keep their exit code 2.
    if (error instanceof ControlError && error.remoteCode === 'NSUP_ERR_USAGE') throw new UsageError(error.message);
    throw error;
  }
  const result = reply.result;
  if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    const line = `${app}/${job}: ${result.reason} in ${formatSeconds(result.durationMs)} (${result.trigger === 'manual' ? 'nsup run' : result.trigger})`;
    const out = result.output.map((l) => `  ${l}\n`).join('');
    if (result.ok) process.stdout.write(`${line}\n${out}`);
    else process.stderr.write(`nsup: ${line}${result.output.length > 0 ? `; its last ${result.output.length === 1 ? 'line' : `${result.output.length} lines`}:` : ''}\n${out}`);
  }
  return result.ok ? EXIT.ok : EXIT.runtime;
}

interface Result {
  ok: boolean;
  app: string;
  message?: string;
  reason?: string;
  generation?: number;
  durationMs?: number;
}

function printResult(cmd: string, r: Result): void {
  const text =
    cmd === 'reload'
      ? r.ok
        ? `${r.app}: reloaded to generation ${r.generation} in ${r.durationMs} ms`
        : `${r.app}: reload failed: ${r.reason}`
      : `${r.message ?? r.app}`;
  (r.ok ? process.stdout : process.stderr).write(`${r.ok ? '' : 'nsup: '}${text}\n`);
}

/** Status of every live supervisor. */
export async function statusDocument(): Promise<StatusDocument> {
  const live = await liveSupervisors();
  const supervisors = await Promise.all(live.map((s) => request(s.path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null) as Promise<SupervisorStatus | null>));
  return { supervisors: supervisors.filter((s): s is SupervisorStatus => s !== null).sort((a, b) => a.pid - b.pid) };
}

/** The live supervisors that run `app` (every live one for 'all'); a clear error when there is none. */
async function supervisorsFor(app: string): Promise<LiveSupervisor[]> {
  const live = await liveSupervisors();
  if (live.length === 0) throw new ControlError(`nothing is running: no live nsup supervisor in ${runtimeDir()}. Start one with: nsup start app.js -d`);
  if (app === 'all') return live;
  const statuses = await Promise.all(live.map(async (s) => ({ s, status: (await request(s.path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null)) as SupervisorStatus | null })));
  const found = statuses.filter(({ status }) => status?.apps.some((a) => a.name === app)).map(({ s }) => s);
  if (found.length === 0) throw new ControlError(unknownApp(app, { supervisors: statuses.map(({ status }) => status).filter((s): s is SupervisorStatus => s !== null) }));
  return found;
}

function unknownApp(app: string, doc: StatusDocument): string {
  const names = doc.supervisors.flatMap((s) => s.apps.map((a) => a.name));
  return `no app named '${app}' is running${names.length ? ` (running: ${names.join(', ')})` : ''}. See nsup status.`;
}

// sd_notify(3) for the primary: READY=1, RELOADING=1, STOPPING=1 and STATUS= to $NOTIFY_SOCKET.
// Node cannot send unix datagrams (nodejs/node#29339, #61933), so each message is handed to
// the `systemd-notify` helper, one at a time and in order, never blocking the event loop.
import { execFile as nodeExecFile } from 'node:child_process';

/** The slice of `child_process.execFile` the notifier uses (tests inject a fake). */
export type ExecFileLike = (
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; timeout: number; killSignal: NodeJS.Signals },
  callback: (error: (Error & { code?: unknown; killed?: boolean }) | null, stdout: string, stderr: string) => void,
) => unknown;

/** How the notifier reaches systemd. Every field has a default. */
export interface NotifierOptions {
  /** The helper to run; default `systemd-notify`, looked up on the PATH of `env`. */
  command?: string;
  /** Sent as `--pid=` (MAINPID= and the sender's credentials); default this process. */
  pid?: number;
  /** Bound on each helper run; default 5000 ms. */
  timeoutMs?: number;
  /** Told about the first failure (and only that one) instead of throwing. */
  onError?: (message: string) => void;
  /** Default: node:child_process execFile. */
  execFile?: ExecFileLike;
}

/** Tells the service manager what the supervisor is doing; every method is a no-op outside systemd. */
export interface Notifier {
  /** Whether messages are sent: NOTIFY_SOCKET is set and the helper has not gone missing. */
  readonly enabled: boolean;
  /** READY=1: start-up finished, or a reload finished. */
  ready(status?: string): Promise<void>;
  /** RELOADING=1 with MONOTONIC_USEC=now: a reload began; send ready() when it ends. */
  reloading(status?: string): Promise<void>;
  /** STOPPING=1: a stop began. */
  stopping(status?: string): Promise<void>;
  /** STATUS=<text>: the one-line status `systemctl status` shows. */
  status(text: string): Promise<void>;
  /** Resolves once every message sent so far was delivered or failed. Never rejects. */
  flush(): Promise<void>;
}

/** Default bound on one systemd-notify run. */
export const NOTIFY_TIMEOUT_MS = 5000;

/** The notify socket systemd gave this process (a path, or '@' for an abstract socket), or null. */
export function notifySocket(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.NOTIFY_SOCKET ? env.NOTIFY_SOCKET : null;
}

/** A notifier for the supervisor's primary; messages are sent in call order, each bounded. */
export function createNotifier(env: NodeJS.ProcessEnv = process.env, opts: NotifierOptions = {}): Notifier {
  const socket = notifySocket(env);
  const command = opts.command ?? 'systemd-notify';
  const pid = opts.pid ?? process.pid;
  const timeout = opts.timeoutMs ?? NOTIFY_TIMEOUT_MS;
  const execFile = opts.execFile ?? (nodeExecFile as unknown as ExecFileLike);
  let missing = false;
  let reported = false;
  let chain: Promise<void> = Promise.resolve();

  const report = (message: string) => {
    if (reported) return;
    reported = true;
    opts.onError?.(message);
  };

  const runOnce = (lines: string[]) =>
    new Promise<void>((resolve) => {
      if (missing) return resolve();
      const done = (error: (Error & { code?: unknown; killed?: boolean }) | null, stderr = '') => {
        if (error?.code === 'ENOENT') {
          missing = true;
          report(`${command} was not found on PATH, so systemd cannot be told ${lines[0]} (NOTIFY_SOCKET=${socket}): install systemd's systemd-notify, or run without Type=notify.`);
        } else if (error) {
          report(`${command} ${lines.join(' ')} failed: ${describeFailure(error, stderr, timeout)}. systemd may not see nsup's state changes.`);
        }
        resolve();
      };
      try {
        execFile(command, [`--pid=${pid}`, ...lines], { env, timeout, killSignal: 'SIGKILL' }, (error, _stdout, stderr) => done(error, stderr));
      } catch (error) {
        done(error as Error);
      }
    });

  const send = (lines: string[]): Promise<void> => {
    if (socket === null || missing) return chain;
    chain = chain.then(() => runOnce(lines));
    return chain;
  };
  const withStatus = (lines: string[], status: string | undefined) => (status === undefined ? lines : [...lines, `STATUS=${oneLine(status)}`]);

  return {
    get enabled() {
      return socket !== null && !missing;
    },
    ready: (status) => send(withStatus(['READY=1'], status)),
    // The timestamp is taken now, when the reload begins, not when the helper gets to run.
    reloading: (status) => send(withStatus(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`], status)),
    stopping: (status) => send(withStatus(['STOPPING=1'], status)),
    status: (text) => send([`STATUS=${oneLine(text)}`]),
    flush: () => chain,
  };
}

/** CLOCK_MONOTONIC in microseconds, as sd_notify's MONOTONIC_USEC wants (libuv's hrtime reads that clock). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

// The notify protocol is newline-separated VAR=VALUE: a line break in the status would start a
// new variable, and a NUL cannot be passed as an argument at all.
function oneLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ');
}

function describeFailure(error: Error & { killed?: boolean; code?: unknown }, stderr: string, timeoutMs: number): string {
  if (error.killed) return `no answer within ${timeoutMs} ms`;
  const detail = stderr.trim().split('\n').pop();
  if (detail) return detail;
  return typeof error.code === 'number' ? `exit code ${error.code}` : error.message;
}

// `nsup start -d`: run the same command again as a detached daemon, then wait on its control
// socket until every worker is up (exit 0) or report why not (exit 1).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/define.ts';
import { request } from '../control/client.ts';
import { ensureRuntimeDir, socketPath } from '../control/runtime-dir.ts';
import type { SupervisorStatus } from '../control/types.ts';
import { EXIT } from '../errors.ts';
import { formatStatus, shouldColor } from './format-status.ts';

/** Set in the daemon's environment, so that its `start -d` supervises instead of detaching again. */
export const DAEMON_ENV = 'NSUP_DAEMONIZED';

/** Spawn the daemon and wait until it is up; the config was validated already (errors exit 78 here). */
export async function detach(config: ResolvedConfig): Promise<number> {
  const dir = ensureRuntimeDir();
  // The daemon's own stdout/stderr (a crash before its logger exists) go here; app logs go to <app>.log.
  const daemonLog = join(dir, 'nsup-daemon.log');
  const fd = openSync(daemonLog, 'a', 0o600);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    // The daemon is not the unit's main process: it must not talk to systemd as if it were.
    env: { ...withoutNotifySocket(process.env), [DAEMON_ENV]: '1' },
  });
  closeSync(fd);
  const pid = child.pid!;
  let exited: number | null = null;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? 1 : 0)));
  child.unref();
  const socket = socketPath(dir, pid);
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (exited !== null || Date.now() > deadline) {
      process.stderr.write(`nsup: the daemon (pid ${pid}) ${exited !== null ? `exited with code ${exited}` : 'did not open its control socket within 10s'} before starting its apps:\n${tail(daemonLog, 10)}\n`);
      return exited === 78 ? EXIT.config : EXIT.runtime;
    }
    // 5 ms: the socket appears once the daemon loaded its modules; this wait is `start -d`'s start-up time.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const timeoutMs = Math.max(...config.apps.map((app) => app.listenTimeoutMs));
  const reply = (await request(socket, 'wait-up', { timeoutMs }, { timeoutMs: timeoutMs + 5000 })) as { up: boolean; status: SupervisorStatus };
  process.stdout.write(formatStatus({ supervisors: [reply.status] }, { color: shouldColor(process.stdout) }));
  if (reply.up) {
    process.stdout.write(`nsup: daemon ${pid} is up; logs in ${dir} (nsup logs <app>), stop with nsup stop all\n`);
    return EXIT.ok;
  }
  const failures = reply.status.apps.filter((app) => app.lastFailure).map((app) => `${app.name}: ${app.lastFailure!.reason}`);
  process.stderr.write(
    `nsup: not every worker came up within ${timeoutMs} ms${failures.length ? `:\n  ${failures.join('\n  ')}` : ''}\n` +
      `nsup: the daemon (pid ${pid}) keeps running and retrying; see nsup logs <app>, or stop it with nsup stop all\n`,
  );
  return EXIT.runtime;
}

function withoutNotifySocket(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NOTIFY_SOCKET: _ignored, ...rest } = env;
  return rest;
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no daemon log)';
  }
}

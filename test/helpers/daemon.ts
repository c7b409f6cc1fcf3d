// Runs `nsup` CLI commands (start -d, status, reload, …) against a private runtime dir, and
// kills whatever daemons a test leaves behind.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, isAlive, waitGone } from './run-nsup.ts';

/** A private NSUP_HOME and a way to run the CLI in it. */
export interface CliHome {
  home: string;
  nsup(args: string[], opts?: { timeoutMs?: number; env?: Record<string, string> }): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
  /** Pids of every daemon whose socket is in the home (live or not). */
  daemonPids(): number[];
  /** Kill every daemon and worker left, remove the dir. */
  dispose(workerPids?: number[]): Promise<void>;
}

/** Make a private runtime dir for one test. */
export function cliHome(): CliHome {
  const home = mkdtempSync(join(tmpdir(), 'nsup-home-'));
  const daemonPids = () =>
    readdirSync(home)
      .map((name) => /^(\d+)\.sock$/.exec(name)?.[1])
      .filter((pid): pid is string => pid !== undefined)
      .map(Number);
  return {
    home,
    daemonPids,
    nsup: async (args, opts = {}) => {
      const result = await execa(process.execPath, [BIN, ...args], {
        cwd: ROOT,
        env: { NO_COLOR: '1', NSUP_HOME: home, ...opts.env },
        reject: false,
        timeout: opts.timeoutMs ?? 30_000,
        stdin: 'ignore',
      });
      return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
    dispose: async (workerPids = []) => {
      const daemons = daemonPids().filter(isAlive);
      for (const pid of daemons) process.kill(pid, 'SIGKILL');
      await waitGone([...daemons, ...workerPids]);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

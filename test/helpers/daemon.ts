// Runs `nsup` CLI commands (start -d, status, reload, …) against a private runtime dir, and
// kills whatever daemons a test leaves behind.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasEnv, killTree, withEnv } from './processes.ts';
import { BIN, ROOT } from './run-nsup.ts';

/** A private NSUP_HOME and a way to run the CLI in it. */
export interface CliHome {
  home: string;
  nsup(args: string[], opts?: { timeoutMs?: number; env?: Record<string, string> }): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
  /** Start a CLI command that runs until killed (e.g. `logs -f`); its stdout is a live stream. */
  spawn(args: string[], opts?: { timeoutMs?: number }): ResultPromise;
  /** Pids of every daemon whose socket is in the home (live or not). */
  daemonPids(): number[];
  /** Kill every daemon left, everything under it or started in this home, and the workers named; remove the dir. */
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
    spawn: (args, opts = {}) =>
      execa(process.execPath, [BIN, ...args], {
        cwd: ROOT,
        env: { NO_COLOR: '1', NSUP_HOME: home },
        reject: false,
        buffer: false,
        forceKillAfterDelay: false,
        timeout: opts.timeoutMs ?? 30_000,
        stdin: 'ignore',
      }),
    dispose: async (workerPids = []) => {
      // Everything started in this home inherited its NSUP_HOME: the daemons, their workers and
      // the workers' own children, even those re-parented already. The mark also tells a pid
      // from a socket name or a status (`workerPids`) that now belongs to someone else: only a
      // marked one is killed. killTree collects each one's descendants before it kills anything.
      const ours = [...new Set([...daemonPids(), ...workerPids, ...withEnv('NSUP_HOME', home)])].filter((pid) => hasEnv(pid, 'NSUP_HOME', home));
      const left = await killTree(ours);
      rmSync(home, { recursive: true, force: true });
      if (left.length > 0) throw new Error(`cleanup: still alive after SIGKILL: ${left.join(', ')}`);
    },
  };
}

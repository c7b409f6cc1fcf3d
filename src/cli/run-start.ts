// The body of `nsup start`, imported lazily: turn flags into a config, then supervise.
import { configFromFlags, type StartArgs } from '../config/flags.ts';
import { DEFAULT_CONFIG, defaultConfigFile, isConfigFileName } from '../config/load.ts';
import { DAEMON_ENV, detach } from './detach.ts';

/** Load the config named by the flags and run the supervisor until it stops; resolves with the exit code. */
export async function runStart(args: StartArgs & { daemon?: boolean }): Promise<number> {
  args = withConfigFile(args);
  const config = await configFromFlags(args);
  if (args.daemon && process.env[DAEMON_ENV] !== '1') {
    // The daemon logs the warnings to its log; the terminal that started it sees them too.
    for (const w of config.warnings ?? []) process.stderr.write(`nsup: warning: ${w.message}\n`);
    return detach(config);
  }
  // Imported here, not at the top: `start -d` validates and detaches without loading the
  // supervisor (the daemon loads it), so the command returns sooner.
  const { startSupervisor } = await import('../supervisor/start.ts');
  // A reload re-reads the same file with the same flags on top, and validates it again.
  const running = await startSupervisor(config, { loadConfig: () => configFromFlags(args), daemon: Boolean(args.daemon) });
  return running.done;
}

// `nsup start ecosystem.config.js` (PM2's form) names a config file, not a script; and with
// neither, a PM2 ecosystem file is used when there is no supervisor.config.ts (as `pm2 start` does).
function withConfigFile<A extends StartArgs>(args: A): A {
  if (args.script !== undefined && args.config === undefined && isConfigFileName(args.script)) return { ...args, script: undefined, config: args.script };
  if (args.script === undefined && args.config === undefined) {
    const file = defaultConfigFile();
    if (!file.endsWith(DEFAULT_CONFIG)) return { ...args, config: file };
  }
  return args;
}

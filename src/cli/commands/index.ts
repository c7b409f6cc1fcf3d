// The explicit list of CLI commands (no commandDir: it expects CommonJS-style modules, yargs #2479).
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { logsCommand, reloadCommand, restartCommand, runCommand, scaleCommand, sendCommand, statusCommand, stopCommand } from './control.ts';
import { importCommand } from './import.ts';
import { deployCommand } from './deploy.ts';
import { monitCommand } from './monit.ts';
import { startCommand } from './start.ts';
import { startupCommand } from './startup.ts';

/** A command: its yargs usage, its flags, and a handler that resolves with the exit code. */
export interface CommandModule<A> {
  command: string | string[];
  describe: string;
  builder: (yargs: Argv) => Argv;
  handler: (args: ArgumentsCamelCase<A>) => Promise<number>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: Array<CommandModule<any>> = [startCommand, statusCommand, reloadCommand, restartCommand, stopCommand, scaleCommand, logsCommand, sendCommand, runCommand, startupCommand, importCommand, deployCommand, monitCommand];

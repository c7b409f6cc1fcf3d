// The CLI entry: parse, run the command, and map every error to one stderr line and an exit code.
import { EXIT, NsupError, UsageError } from '../errors.ts';
import { commands } from './commands/index.ts';
import { buildCli } from './parse.ts';

/** Run `nsup` with these arguments; exits the process with the command's exit code. */
export async function main(argv: string[]): Promise<void> {
  let code: number;
  try {
    code = await dispatch(argv);
  } catch (error) {
    code = report(error);
  }
  process.exitCode = code;
  // Foreground supervision ends with an explicit exit: nothing may keep the primary alive.
  if (code !== EXIT.ok || argv[0] === 'start') process.exit(code);
}

async function dispatch(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const cli = buildCli(argv, async (name, args) => {
    const command = commands.find((c) => (Array.isArray(c.command) ? c.command : [c.command]).some((s) => s.split(' ')[0] === name));
    if (command) code = await command.handler(args as never);
  });
  try {
    await cli.parseAsync();
  } catch (error) {
    if (error instanceof NsupError) throw error;
    // yargs validation failures (unknown flag, missing command) are usage errors.
    throw new UsageError(`${(error as Error).message}\nRun nsup --help for usage.`, { cause: error });
  }
  return code;
}

function report(error: unknown): number {
  if (error instanceof NsupError) {
    process.stderr.write(`nsup: ${error.message} [${error.code}]\n`);
    return error.exitCode;
  }
  process.stderr.write(`nsup: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.runtime;
}

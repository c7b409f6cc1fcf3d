// The CLI entry: parse, run the command, and map every error to one stderr line and an exit code.
// process.getBuiltinModule, not `import … from 'node:util'`: an ES import of a builtin builds its
// namespace from every export, which runs util's (and fs') lazy getters: about 3 ms each here,
// on the `nsup status` path that scripts call in a loop (docs/benchmarks.md).
const { parseArgs } = process.getBuiltinModule('node:util');
import { EXIT, NsupError, UsageError } from '../errors.ts';

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
  const quick = quickStatus(argv);
  if (quick) return (await import('./run-control.ts')).runStatus(quick);
  // A foreground `start` is the primary for as long as it supervises: it parses its common forms
  // without yargs (quick-start.ts), which would otherwise stay loaded in it.
  if (argv[0] === 'start') {
    const args = (await import('./quick-start.ts')).quickStartArgs(argv.slice(1));
    if (args) return (await import('./run-start.ts')).runStart(args);
  }
  // yargs costs ~50 ms to load: only the commands that need it pay for it.
  const [{ commands }, { buildCli }] = await Promise.all([import('./commands/index.ts'), import('./parse.ts')]);
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

// `nsup status|ls [name] [--json]` is what scripts and monitoring call in a loop: it is parsed
// with node:util alone, so it never loads yargs or the supervisor. Anything else (--help, a typo)
// goes through yargs as usual.
function quickStatus(argv: string[]): { name?: string; json?: boolean } | null {
  if (argv[0] !== 'status' && argv[0] !== 'ls') return null;
  try {
    const { values, positionals } = parseArgs({ args: argv.slice(1), options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
    if (positionals.length > 1) return null;
    return { ...(positionals[0] !== undefined ? { name: positionals[0] } : {}), ...(values.json ? { json: true } : {}) };
  } catch {
    return null;
  }
}

function report(error: unknown): number {
  if (error instanceof NsupError) {
    process.stderr.write(`nsup: ${error.message} [${error.code}]\n`);
    return error.exitCode;
  }
  process.stderr.write(`nsup: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.runtime;
}

// Builds the yargs parser; parseArgv() lets unit tests check parsing without running anything.
import yargs, { type Argv } from 'yargs';
import { commands } from './commands/index.ts';

/** The yargs instance for `nsup`, with every command registered. `run` decides what handlers do. */
export function buildCli(argv: string[], run: (command: string, args: Record<string, unknown>) => Promise<void> | void): Argv {
  let cli = yargs(argv)
    .scriptName('nsup')
    .usage('$0 <command> [options]')
    // nargs-eats-options: a flag declared with nargs 1 (--node-args) takes the next word even when it starts with '-'.
    .parserConfiguration({ 'populate--': true, 'unknown-options-as-args': false, 'parse-positional-numbers': false, 'nargs-eats-options': true })
    .strict()
    .demandCommand(1, 'Say what to do, e.g.: nsup start app.js -i max')
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail(false);
  for (const command of commands) {
    cli = cli.command({
      command: command.command,
      describe: command.describe,
      builder: command.builder,
      handler: async (args) => {
        const name = Array.isArray(command.command) ? command.command[0]! : command.command;
        await run(name.split(' ')[0]!, args as Record<string, unknown>);
      },
    });
  }
  return cli;
}

/** Parse a command line into { command, args } without running the command. */
export async function parseArgv(argv: string[]): Promise<{ command: string; args: Record<string, unknown> }> {
  let result: { command: string; args: Record<string, unknown> } | undefined;
  await buildCli(argv, (command, args) => {
    result = { command, args };
  }).parseAsync();
  if (!result) throw new Error(`no command in: ${argv.join(' ')}`);
  return result;
}

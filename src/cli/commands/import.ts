// `nsup import [ecosystem file]`: convert a PM2 ecosystem file to an nsup config on stdout, the
// warnings on stderr, so `nsup import > supervisor.config.ts` captures only the config.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { CommandModule } from './index.ts';

/** What the import command receives after parsing. */
export interface ImportArgs {
  file?: string;
}

export const importCommand: CommandModule<ImportArgs> = {
  command: 'import [file]',
  describe: 'print a PM2 ecosystem file (.js, .cjs, .json) as an nsup supervisor.config.ts; warnings on stderr',
  builder: (yargs: Argv) =>
    yargs
      .positional('file', { type: 'string', describe: 'the PM2 ecosystem file [default: ./ecosystem.config.js, .cjs or .json]' })
      .example('$0 import ecosystem.config.js > supervisor.config.ts', 'convert, then: nsup start')
      .example('$0 start ecosystem.config.js', 'or run the PM2 file as it is'),
  handler: async (args: ArgumentsCamelCase<ImportArgs>) => (await import('../run-import.ts')).runImport(args),
};

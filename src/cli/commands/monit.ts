// `nsup monit [app]`: the full-screen live view; lazily imports src/monit/run.ts (and with it ink and React).
import type { CommandModule } from './index.ts';

export const monitCommand: CommandModule<{ name?: string }> = {
  command: 'monit [name]',
  describe: 'full-screen live view of every app and worker (figures each second, output, last failure); keys: up/down select, r reload, +/- scale, q quit',
  builder: (yargs) => yargs.positional('name', { type: 'string', describe: 'only this app' }),
  handler: async (args) => (await import('../../monit/run.ts')).runMonit(args),
};

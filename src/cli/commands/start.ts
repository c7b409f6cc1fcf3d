// `nsup start [script]`: load the config (file or flags) and supervise in the foreground.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { configFlagOptions, type StartArgs } from '../../config/flags.ts';
import type { CommandModule } from './index.ts';

/**
 * Flags of `nsup start`: the few that are not config keys, then one per config key that has a
 * flag (declared next to the key's parser in config/schema.ts).
 */
export const startOptions = {
  name: { alias: 'n', type: 'string', description: 'app name (with a config file: start only this app)' },
  config: { alias: 'c', type: 'string', description: 'config file [default: ./supervisor.config.ts when no script is given]' },
  daemon: { alias: 'd', type: 'boolean', description: 'detach: return once every worker is up; logs go to <app>.log in the runtime dir' },
  ...configFlagOptions(),
} as const;

/** What the start command receives after parsing: config flags (camelCase) plus these. */
export type StartCommandArgs = StartArgs & { daemon?: boolean };

export const startCommand: CommandModule<StartCommandArgs> = {
  command: 'start [script]',
  describe: 'start a script (or ./supervisor.config.ts) on every CPU, in the foreground',
  builder: (yargs: Argv) =>
    yargs
      .positional('script', { type: 'string', describe: 'the app to run (omit to use the config file)' })
      .options(startOptions)
      .example('$0 start server.js -i max', 'one worker per usable CPU')
      .example('$0 start', 'run the apps of ./supervisor.config.ts')
      .example('$0 start app.js -d', 'detach; then nsup status, nsup logs app, nsup stop app')
      .example('$0 start app.js -i 2 --env PORT=3000 -- --app-flag', 'two workers, env and app arguments')
      .example('$0 start --env production --env-file .env', "the config's apps with their envs.production set and a .env file"),
  handler: async (args: ArgumentsCamelCase<StartCommandArgs>) => {
    const { runStart } = await import('../run-start.ts');
    return runStart(args);
  },
};

// `nsup deploy [config]`: the one idempotent command for deploy scripts and CI. Thin: the flags
// are start's (the same config keys), the body (run-deploy.ts) is imported lazily.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { DeployArgs } from '../run-deploy.ts';
import type { CommandModule } from './index.ts';
import { startOptions } from './start.ts';

// Every flag of start but -d: a deploy always leaves its apps running in the background.
const { daemon: _daemon, ...deployOptions } = startOptions;

export const deployCommand: CommandModule<DeployArgs> = {
  command: 'deploy [file]',
  describe: "start the config's apps that are not running (as start -d), roll the running ones onto it (rolling reload); exit 1 if one did not come up or rolled back",
  builder: (yargs: Argv) =>
    yargs
      .positional('file', { type: 'string', describe: 'config file [default: ./supervisor.config.ts]' })
      .options(deployOptions)
      .example('$0 deploy', 'start or roll every app of ./supervisor.config.ts')
      .example('ln -sfn releases/42 current && $0 deploy current/supervisor.config.ts', 'a release-directory deploy (docs/deploy.md)'),
  handler: async (args: ArgumentsCamelCase<DeployArgs>) => {
    const { runDeploy } = await import('../run-deploy.ts');
    return runDeploy(args);
  },
};

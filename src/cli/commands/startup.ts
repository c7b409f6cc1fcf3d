// `nsup startup systemd`: print a unit that runs the config's apps under systemd. The config is
// loaded and validated first (errors exit 78), and the unit code is imported only when run.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { CommandModule } from './index.ts';

/** What the startup command receives after parsing. */
export interface StartupArgs {
  platform: 'systemd';
  user?: boolean;
  config?: string;
  runAs?: string;
}

/** Flags of `nsup startup`, declared as data. */
export const startupOptions = {
  user: { type: 'boolean', description: 'a unit for your own systemd manager (systemctl --user) instead of the system one' },
  config: { alias: 'c', type: 'string', description: 'config file [default: ./supervisor.config.ts]' },
  'run-as': { type: 'string', description: "system units: run as this user (or 'user:group'); default root" },
} as const;

export const startupCommand: CommandModule<StartupArgs> = {
  command: 'startup <platform>',
  describe: 'print a service unit that runs nsup at boot (systemd)',
  builder: (yargs: Argv) =>
    yargs
      .positional('platform', { type: 'string', choices: ['systemd'], describe: 'the init system', demandOption: true })
      .options(startupOptions)
      .conflicts('user', 'run-as')
      .example('$0 startup systemd > /etc/systemd/system/web.service', 'a system unit for ./supervisor.config.ts')
      .example('$0 startup systemd --user -c deploy/prod.config.ts', 'a unit for systemctl --user'),
  handler: (args: ArgumentsCamelCase<StartupArgs>) => runStartup(args),
};

// Load and validate the config (an NsupError propagates: exit 78), then print the unit on stdout
// and where to put it on stderr, so `nsup startup systemd > unit.service` captures only the unit.
async function runStartup(args: ArgumentsCamelCase<StartupArgs>): Promise<number> {
  const [{ resolve }, { DEFAULT_CONFIG, loadConfigFile }, { renderUnit, unitName }] = await Promise.all([
    import('node:path'),
    import('../../config/load.ts'),
    import('../../systemd/unit.ts'),
  ]);
  const path = resolve(args.config ?? DEFAULT_CONFIG);
  const config = await loadConfigFile(path);
  const opts = {
    configFile: config.file ?? path,
    apps: config.apps.map((app) => ({ name: app.name, killTimeoutMs: app.killTimeoutMs })),
    user: Boolean(args.user),
    runAs: args.runAs,
  };
  const unit = renderUnit(opts);
  const name = unitName(opts);
  const systemctl = args.user ? 'systemctl --user' : 'systemctl';
  const where = args.user ? `~/.config/systemd/user/${name}.service` : `/etc/systemd/system/${name}.service`;
  process.stdout.write(unit);
  process.stderr.write(`# Save this unit as ${where}, then run:\n#   ${systemctl} daemon-reload && ${systemctl} enable --now ${name}\n`);
  return 0;
}

// The control commands (status, reload, restart, stop, scale, logs): thin yargs modules that
// lazily import run-control.ts, so `nsup status` never loads the supervisor's code.
import type { Argv } from 'yargs';
import type { CommandModule } from './index.ts';

const appArg = (yargs: Argv) => yargs.positional('name', { type: 'string', describe: "app name, or 'all'", demandOption: true });

export const statusCommand: CommandModule<{ name?: string; json?: boolean }> = {
  command: ['status [name]', 'ls [name]'],
  describe: 'show every app and worker of the running supervisors',
  builder: (yargs) => yargs.positional('name', { type: 'string', describe: 'only this app' }).option('json', { type: 'boolean', description: 'one JSON document, for scripts' }),
  handler: async (args) => (await import('../run-control.ts')).runStatus(args),
};

export const reloadCommand: CommandModule<{ name: string }> = {
  command: 'reload <name>',
  describe: 'rolling, zero-downtime reload; exits non-zero if the new version fails (and was rolled back)',
  builder: appArg,
  handler: async (args) => (await import('../run-control.ts')).runAction('reload', args.name),
};

export const restartCommand: CommandModule<{ name: string }> = {
  command: 'restart <name>',
  describe: 'stop every worker, then start them again (not zero-downtime: use reload for that)',
  builder: appArg,
  handler: async (args) => (await import('../run-control.ts')).runAction('restart', args.name),
};

export const stopCommand: CommandModule<{ name: string }> = {
  command: 'stop <name>',
  describe: 'drain and stop an app; a supervisor with no app left exits',
  builder: appArg,
  handler: async (args) => (await import('../run-control.ts')).runAction('stop', args.name),
};

export const scaleCommand: CommandModule<{ name: string; count: string }> = {
  command: 'scale <name> <count>',
  describe: 'set the number of workers: N, +N or -N',
  builder: (yargs) => appArg(yargs).positional('count', { type: 'string', describe: 'N, +N or -N', demandOption: true }),
  handler: async (args) => (await import('../run-control.ts')).runScale(args.name, String(args.count)),
};

export const logsCommand: CommandModule<{ name: string; lines: number; follow?: boolean }> = {
  command: 'logs <name>',
  describe: "print an app's recent output and supervisor events (-f: keep following)",
  builder: (yargs) =>
    appArg(yargs)
      .option('lines', { alias: 'n', type: 'number', default: 20, description: 'how many recent lines' })
      .option('follow', { alias: 'f', type: 'boolean', description: 'keep printing new lines until Ctrl-C' }),
  handler: async (args) => (await import('../run-control.ts')).runLogs(args.name, { lines: args.lines, follow: Boolean(args.follow) }),
};

export const sendCommand: CommandModule<{ name: string; target: string; topic: string; json?: string }> = {
  command: 'send <name> <target> <topic> [json]',
  describe: "deliver a message to the workers' on(topic) handlers (target: worker id or all; handlers see from = -1)",
  builder: (yargs) =>
    appArg(yargs)
      .positional('target', { type: 'string', describe: "worker id, or 'all'", demandOption: true })
      .positional('topic', { type: 'string', describe: 'topic of the on() handlers', demandOption: true })
      .positional('json', { type: 'string', describe: 'data, as JSON' }),
  handler: async (args) => (await import('../run-control.ts')).runSend(args.name, String(args.target), String(args.topic), args.json),
};

// The control commands (status, reload, restart, stop, scale, logs, send, run): thin yargs modules that
// lazily import run-control.ts (logs: run-logs.ts), so `nsup status` never loads the supervisor's code.
import type { Argv } from 'yargs';
import type { LogsArgs } from '../run-logs.ts';
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

export const logsCommand: CommandModule<LogsArgs> = {
  command: 'logs <name>',
  describe: "print an app's recent output and supervisor events from its log files (or the supervisor's memory); -f: keep following",
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', describe: 'app name', demandOption: true })
      // Values are taken as strings and checked by run-logs.ts, whose errors name the accepted forms.
      .option('since', { type: 'string', description: "only lines from then on: a duration ago ('10m', '2h') or a date" })
      .option('until', { type: 'string', description: 'only lines up to then: a duration ago or a date' })
      .option('grep', { type: 'string', description: 'only lines whose message matches this regular expression' })
      .option('worker', { type: 'string', description: 'only the output of this worker slot' })
      .option('job', { type: 'string', description: "only the output of this scheduled job's runs" })
      .option('stream', { type: 'string', description: "only out (stdout), err (stderr) or nsup (the supervisor's events)" })
      .option('json', { type: 'boolean', description: 'one JSON object per line' })
      .option('lines', { alias: 'n', type: 'string', description: 'how many of the last matching lines (default 20; all with --since/--until)' })
      .option('follow', { alias: 'f', type: 'boolean', description: 'then keep printing new matching lines until Ctrl-C' })
      .option('flush', { type: 'boolean', description: "empty the app's log files (and delete the rotated ones)" }),
  handler: async (args) => (await import('../run-logs.ts')).runLogs(args),
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

export const runCommand: CommandModule<{ name: string; job: string; json?: boolean }> = {
  command: 'run <name> <job>',
  describe: "run one of an app's jobs now and wait for it; exits 0 if it succeeded, 1 if it failed or could not start (Ctrl-C does not stop the job)",
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', describe: 'app name', demandOption: true })
      .positional('job', { type: 'string', describe: "job name (the app's jobs[].name)", demandOption: true })
      .option('json', { type: 'boolean', description: 'print the result as one JSON document' }),
  handler: async (args) => (await import('../run-control.ts')).runJobNow(args.name, String(args.job), { json: args.json === true }),
};

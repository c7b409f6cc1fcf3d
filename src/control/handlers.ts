// What each control command does: a table from command name to a call on the supervisor.
import { ControlError, UsageError } from '../errors.ts';
import { decodeAppConfig } from './app-config.ts';
import type { Output } from '../log/logger.ts';
import type { ReloadController } from '../supervisor/reload.ts';
import type { Supervisor } from '../supervisor/supervisor.ts';
import type { Handler } from './server.ts';
import type { SupervisorStatus } from './types.ts';

/** Everything the handlers act on. */
export interface HandlerDeps {
  supervisor: Supervisor;
  reloads: ReloadController;
  output: Output;
  /** This supervisor's status document. */
  status: () => SupervisorStatus;
}

/** The control commands, by name. */
export function createHandlers(deps: HandlerDeps): Record<string, Handler> {
  const { supervisor, reloads, output } = deps;
  return {
    ping: async () => ({ pid: process.pid }),
    status: async () => deps.status(),
    reload: async (args) => ({ results: await reloads.request(appNames(supervisor, args), 'nsup reload') }),
    // `nsup deploy`: roll one app onto the config the command validated (sent resolved, see app-config.ts).
    deploy: async (args) => {
      const [app] = appNames(supervisor, args);
      if (args.app === 'all' || args.app === undefined) throw new UsageError('deploy takes one app name and its config');
      return { results: await reloads.request([app!], 'nsup deploy', new Map([[app!, decodeAppConfig(args.config, app!)]])) };
    },
    restart: async (args) => ({ results: await Promise.all(appNames(supervisor, args).map((app) => supervisor.appOp(app, 'restart'))) }),
    stop: async (args) => ({ results: await Promise.all(appNames(supervisor, args).map((app) => supervisor.appOp(app, 'stop'))) }),
    scale: async (args) => {
      const [app] = appNames(supervisor, args);
      const change = typeof args.delta === 'number' ? { delta: args.delta } : { to: typeof args.to === 'number' ? args.to : NaN };
      const result = await supervisor.appOp(app!, 'scale', change);
      if (result.ok) await supervisor.whenUp([app!], supervisor.apps.get(app!)?.config.listenTimeoutMs ?? 10_000);
      return { results: [result] };
    },
    // `nsup logs`: the records it remembers (JSON, one per streamed line), then new ones with follow.
    logs: async (args, ctx) => {
      const [app] = appNames(supervisor, args);
      const lines = typeof args.lines === 'number' ? args.lines : 20;
      for (const record of output.recent(app!, lines)) ctx.stream(JSON.stringify(record));
      if (args.follow !== true) return { app };
      const stop = output.follow(app!, (record) => ctx.stream(JSON.stringify(record)));
      await Promise.race([ctx.closed, supervisor.done]);
      stop();
      return { app };
    },
    'logs-files': async (args) => {
      const [app] = appNames(supervisor, args);
      return { app, files: output.files(app!) };
    },
    'logs-flush': async (args) => {
      const [app] = appNames(supervisor, args);
      return { app, files: await output.empty(app!) };
    },
    send: async (args) => {
      const [app] = appNames(supervisor, args);
      const to = args.target === 'all' ? 'all' : Number(args.target);
      if (to !== 'all' && !Number.isInteger(to)) throw new UsageError(`target must be a worker id or 'all', got ${JSON.stringify(args.target)}`);
      if (typeof args.topic !== 'string' || args.topic === '') throw new UsageError('topic must be a non-empty string');
      return await supervisor.deliver(app!, to, args.topic, args.data);
    },
    // `nsup run <app> <job>`: run one job now and answer with its result once it ended. An unknown
    // job is a usage error (it lists the app's jobs); a refusal (running with overlap 'skip', the
    // app stopping) is a runtime error; a run that failed is a result, with ok false.
    run: async (args) => {
      const [app] = appNames(supervisor, args);
      if (args.app === 'all' || args.app === undefined) throw new UsageError('run takes one app name and one job name');
      if (typeof args.job !== 'string' || args.job === '') throw new UsageError(`run takes a job name (jobs of ${app}: ${jobNames(supervisor, app!)})`);
      const outcome = await supervisor.runJob(app!, args.job);
      if (!outcome.ok) throw outcome.unknownJob ? new UsageError(outcome.reason) : new ControlError(outcome.reason);
      return { result: outcome.result };
    },
    'wait-up': async (args) => {
      const timeoutMs = typeof args.timeoutMs === 'number' ? args.timeoutMs : 10_000;
      const up = await supervisor.whenUp('all', timeoutMs);
      return { up, status: deps.status() };
    },
  };
}

/** `args.app`: one app name, or 'all'; unknown names are a usage error naming the running apps. */
function appNames(supervisor: Supervisor, args: Record<string, unknown>): string[] {
  const app = args.app;
  const running = [...supervisor.apps.keys()];
  if (app === 'all' || app === undefined) return running;
  if (typeof app !== 'string' || !supervisor.apps.has(app)) {
    throw new UsageError(`no app named '${String(app)}' in supervisor ${process.pid} (apps: ${running.join(', ') || 'none'})`);
  }
  return [app];
}

function jobNames(supervisor: Supervisor, app: string): string {
  return supervisor.apps.get(app)?.config.jobs.map((job) => job.name).join(', ') || 'none';
}

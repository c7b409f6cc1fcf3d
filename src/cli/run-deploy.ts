// The body of `nsup deploy`, imported lazily. One command a deploy script can run every time:
// validate the config (exit 78, nothing touched, when it is invalid); start the apps that are not
// running as `start -d` does (return once every worker is up, exit 1 with the reasons otherwise);
// roll the running ones onto the new config with a rolling reload, and exit 1 with the reason
// when one rolled back (its old version keeps serving). See docs/deploy.md.
import type { ResolvedApp, ResolvedConfig } from '../config/define.ts';
import { configFromFlags, type StartArgs } from '../config/flags.ts';
import { encodeAppConfig } from '../control/app-config.ts';
import { liveSupervisors, request, type LiveSupervisor } from '../control/client.ts';
import type { SupervisorStatus } from '../control/types.ts';
import { EXIT, UsageError } from '../errors.ts';
import { startSupervisor } from '../supervisor/start.ts';
import { DAEMON_ENV, detach } from './detach.ts';

/** What the deploy command receives: start's config flags, and the config file as a positional. */
export type DeployArgs = StartArgs & { file?: string };

// The daemon a deploy spawns supervises these apps (the ones that were not running), not the whole file.
const DEPLOY_APPS_ENV = 'NSUP_DEPLOY_APPS';
const STATUS_TIMEOUT_MS = 5000;
// A rolling reload waits for new workers (listen timeouts) and old drains (kill timeouts).
const DEPLOY_TIMEOUT_MS = 10 * 60_000;

/** Start what is not running, roll what is; resolves with the exit code. */
export async function runDeploy(args: DeployArgs): Promise<number> {
  if (args.file !== undefined && args.config !== undefined) throw new UsageError(`Give the config file once: nsup deploy ${args.file}, or nsup deploy --config ${args.config}.`);
  const flags: StartArgs = { ...args, config: args.file ?? args.config };
  if (process.env[DAEMON_ENV] === '1' && process.env[DEPLOY_APPS_ENV] !== undefined) return superviseStarted(flags);
  const config = await configFromFlags(flags);
  const running = await runningApps();
  const toStart = config.apps.filter((app) => !running.has(app.name));
  const toRoll = config.apps.filter((app) => running.has(app.name));
  for (const app of toStart) say(`${app.name} is not running: starting it`);
  for (const app of toRoll) say(`${app.name} runs under supervisor ${running.get(app.name)!.pid}: rolling it onto the new config`);
  let code: number = EXIT.ok;
  if (toStart.length > 0) {
    process.env[DEPLOY_APPS_ENV] = toStart.map((app) => app.name).join(',');
    code = await detach({ ...config, apps: toStart });
    delete process.env[DEPLOY_APPS_ENV];
  }
  // A start that failed does not hold back the other apps' deploy; the exit code stays non-zero.
  const rolled = await roll(toRoll, running);
  return code !== EXIT.ok ? code : rolled ? EXIT.ok : EXIT.runtime;
}

/** Roll each running app onto its new config (apps of one supervisor one after the other); true when every one was deployed. */
async function roll(apps: readonly ResolvedApp[], running: Map<string, LiveSupervisor>): Promise<boolean> {
  const outcomes = await Promise.all(
    apps.map(async (app) => {
      const supervisor = running.get(app.name)!;
      const reply = (await request(supervisor.path, 'deploy', { app: app.name, config: encodeAppConfig(app) }, { timeoutMs: DEPLOY_TIMEOUT_MS })) as { results: ReloadReply[] };
      return { supervisor, results: reply.results };
    }),
  );
  let ok = true;
  for (const { supervisor, results } of outcomes) {
    const status = (await request(supervisor.path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null)) as SupervisorStatus | null;
    for (const result of results) {
      const app = status?.apps.find((a) => a.name === result.app);
      if (result.ok) {
        const serving = app?.generations?.find((g) => g.generation === result.generation);
        process.stdout.write(`${result.app}: deployed: generation ${result.generation} serves${serving ? ` from ${serving.cwd}` : ''} (rolled in ${result.durationMs} ms)\n`);
      } else {
        ok = false;
        const keeps = app ? `; generation ${app.generation} keeps serving` : '';
        process.stderr.write(`nsup: ${result.app}: deploy failed, the reload rolled back: ${result.reason ?? 'no reason given'}${keeps}\n`);
      }
    }
  }
  return ok;
}

/** Inside the daemon a deploy spawned: supervise the apps it was started for, as `start -d` would. */
async function superviseStarted(flags: StartArgs): Promise<number> {
  const names = new Set(process.env[DEPLOY_APPS_ENV]!.split(','));
  // Not passed on to the workers.
  delete process.env[DEPLOY_APPS_ENV];
  // (bin/nsup.js has set the primary's V8 young-generation growth for `deploy` too.)
  const only = (config: ResolvedConfig): ResolvedConfig => ({ ...config, apps: config.apps.filter((app) => names.has(app.name)) });
  const config = only(await configFromFlags(flags));
  if (config.apps.length === 0) throw new UsageError(`nsup deploy: none of ${[...names].join(', ')} is in the config any more; nothing to start`);
  // A later reload re-reads the same file and flags, and rolls only this daemon's apps.
  const running = await startSupervisor(config, { loadConfig: async () => only(await configFromFlags(flags)), daemon: true });
  return running.done;
}

/** Every app some live supervisor runs, with that supervisor. */
async function runningApps(): Promise<Map<string, LiveSupervisor>> {
  const apps = new Map<string, LiveSupervisor>();
  for (const live of await liveSupervisors()) {
    const status = (await request(live.path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null)) as SupervisorStatus | null;
    for (const app of status?.apps ?? []) if (!apps.has(app.name)) apps.set(app.name, live);
  }
  return apps;
}

interface ReloadReply {
  app: string;
  ok: boolean;
  generation: number;
  durationMs: number;
  reason?: string;
}

function say(text: string): void {
  process.stdout.write(`nsup deploy: ${text}\n`);
}

// A resolved app config over the control socket (`nsup deploy` sends the config it validated, so
// the supervisor rolls onto exactly that, paths resolved where the command ran). JSON has no
// Infinity (restart.maxRestarts' default): non-finite numbers travel as { $number: 'Infinity' }.
import type { ResolvedApp } from '../config/define.ts';
import { UsageError } from '../errors.ts';

/** The app's config as a JSON-safe value. */
export function encodeAppConfig(app: ResolvedApp): unknown {
  return JSON.parse(JSON.stringify(app, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? { $number: String(value) } : value)));
}

/** Back to a ResolvedApp (frozen); a value that is not one is a usage error naming what is wrong. */
export function decodeAppConfig(value: unknown, name: string): ResolvedApp {
  const app = revive(value) as Partial<ResolvedApp> | null;
  const problem =
    typeof app !== 'object' || app === null
      ? 'it is not an object'
      : app.name !== name
        ? `its name is ${JSON.stringify(app.name)}`
        : typeof app.script !== 'string' || typeof app.cwd !== 'string'
          ? 'it has no script or cwd'
          : !Number.isSafeInteger(app.instances) || app.instances! < 1
            ? 'its instances is not a positive integer'
            : typeof app.restart !== 'object' || app.restart === null || !Array.isArray(app.restart.stopExitCodes)
              ? 'it has no restart policy (sent by an nsup of another version? use the same nsup for deploy and the supervisor)'
              : !Array.isArray(app.jobs)
                ? 'it has no jobs list (sent by an nsup of another version? use the same nsup for deploy and the supervisor)'
                : null;
  if (problem !== null) throw new UsageError(`deploy of '${name}': the config sent is not a resolved app config (${problem})`);
  return deepFreeze(app as ResolvedApp);
}

function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === '$number' && typeof record.$number === 'string') return Number(record.$number);
  return Object.fromEntries(keys.map((key) => [key, revive(record[key])]));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

// Issue 17: `nsup deploy` sends the app config it validated over the control socket (JSON); it
// must arrive as the same ResolvedApp, Infinity (restart.maxRestarts' default) included.
import { describe, expect, it } from 'vitest';
import { decodeAppConfig, encodeAppConfig } from '../../src/control/app-config.ts';
import { UsageError } from '../../src/errors.ts';
import { simConfig } from '../helpers/fake-cluster.ts';

const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('issue 17: a resolved app config over the control socket', () => {
  it('arrives as the same config, Infinity and nulls kept, frozen', () => {
    const [app] = simConfig([{ name: 'web', instances: 2, restart: { stopExitCodes: [0, 42] }, env: { PORT: '3000' } }]).apps;
    expect(app!.restart.maxRestarts).toBe(Infinity);
    const back = decodeAppConfig(wire(encodeAppConfig(app!)), 'web');
    expect(back).toEqual(app);
    expect(Object.isFrozen(back.restart)).toBe(true);
  });

  it('refuses a value that is not that app resolved, saying why', () => {
    const [app] = simConfig([{ name: 'web', instances: 1 }]).apps;
    const sent = wire(encodeAppConfig(app!)) as Record<string, unknown>;
    expect(() => decodeAppConfig(sent, 'api')).toThrow(UsageError);
    expect(() => decodeAppConfig(sent, 'api')).toThrow(/its name is "web"/);
    expect(() => decodeAppConfig({ ...sent, restart: { delayMs: 1 } }, 'web')).toThrow(/no restart policy/);
    expect(() => decodeAppConfig('web', 'web')).toThrow(/not an object/);
  });
});

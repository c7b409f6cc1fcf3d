// Issue 12: sticky sessions. With `sticky: true` the primary hands every connection of a client
// (keyed by its IP address) to the same live worker, as the same socket handle; without it,
// round-robin spreads one client's connections over every worker. Clients come from several
// loopback addresses (the whole 127/8 is loopback on Linux).
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const ADDRESSES = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`);
const isUp = (e: LogLine) => e.event === 'worker.up';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

/** One fresh connection (Connection: close) from `localAddress`; resolves with the answering pid. */
function pidFrom(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, localAddress, agent: false, headers: { connection: 'close' }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve((JSON.parse(body) as { pid: number }).pid));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${localAddress} within 5 s`)));
    request.on('error', reject);
  });
}

/** Per client address, the set of pids that answered its `n` connections. */
async function pidsPerClient(port: number, n: number): Promise<Map<string, Set<number>>> {
  const seen = new Map<string, Set<number>>();
  await Promise.all(
    ADDRESSES.map(async (address) => {
      const pids = new Set<number>();
      for (let i = 0; i < n; i++) pids.add(await pidFrom(port, address));
      seen.set(address, pids);
    }),
  );
  return seen;
}

/** The client addresses grouped by the worker that served them, in a comparable order. */
function partition(seen: Map<string, Set<number>>): string[][] {
  const byPid = new Map<number, string[]>();
  for (const [address, pids] of seen) byPid.set([...pids][0]!, [...(byPid.get([...pids][0]!) ?? []), address]);
  return [...byPid.values()].map((addresses) => addresses.sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

async function start(sticky: boolean): Promise<{ nsup: Nsup; port: number }> {
  const port = await freePort();
  const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', ...(sticky ? ['--sticky'] : []), '--env', `PORT=${port}`]);
  await nsup.waitForCount(isUp, 2, 'two workers up');
  return { nsup, port };
}

describe('sticky sessions', () => {
  it('sticky: every connection of a client goes to one worker, clients are spread over both, and after a reload each client sticks to a new-generation worker', async () => {
    const { nsup, port } = await start(true);
    const before = await pidsPerClient(port, 10);
    for (const [address, pids] of before) expect(pids.size, `${address} answered by ${[...pids].join(', ')}`).toBe(1);
    const workers = new Set([...before.values()].flatMap((pids) => [...pids]));
    expect(workers.size).toBe(2);

    nsup.proc.kill('SIGHUP');
    expect((await nsup.waitFor(isReloadEnd, 'the reload', 20_000)).event).toBe('reload.done');
    const after = await pidsPerClient(port, 10);
    for (const [address, pids] of after) {
      expect(pids.size, `${address} answered by ${[...pids].join(', ')}`).toBe(1);
      expect(workers.has([...pids][0]!), `${address} still on an old worker`).toBe(false);
    }
    // A slot keeps its clients: the addresses that shared a worker before share one after.
    expect(partition(after)).toEqual(partition(before));
    expect(await stopNsup(nsup)).toBe(0);
  });

  it("a client's worker dies: its connections go to the other worker meanwhile, and back to its slot once that is up again", async () => {
    const { nsup, port } = await start(true);
    const client = ADDRESSES[0]!;
    const first = await pidFrom(port, client);
    process.kill(first, 'SIGKILL');
    await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === first, 'the killed worker to be gone');
    // Whichever worker answers meanwhile, every request is answered.
    const meanwhile = await pidFrom(port, client);
    expect(meanwhile).not.toBe(first);
    const restarted = await nsup.waitFor((e) => isUp(e) && e.pid !== first && e.pid !== meanwhile, 'the slot to be up again');
    expect(await pidFrom(port, client)).toBe(restarted.pid);
    expect(await stopNsup(nsup)).toBe(0);
  });

  it('without sticky, round-robin spreads one client over both workers (what sticky changes)', async () => {
    const { nsup, port } = await start(false);
    const seen = await pidsPerClient(port, 10);
    expect([...seen.values()].some((pids) => pids.size > 1)).toBe(true);
    expect(await stopNsup(nsup)).toBe(0);
  });
});

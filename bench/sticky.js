// Scenario: sticky sessions against round-robin, same run. `Connection: close` load (every
// request a new connection, so every request is a routing decision), from 20 loopback source
// addresses (127.0.0.2–21, so sticky spreads clients over both workers as real clients would):
// req/s and p99 of raw cluster, nsup and nsup with `sticky: true`, and the primary's CPU time per
// new connection (utime + stime of the primary process / connections).
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { load, sleep, withTarget } from './lib.js';

export const NAMES = ['raw cluster', 'nsup', 'nsup sticky'];
const SOURCES = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 2}`);

// autocannon connects with net.connect(port, host): give each new connection the next source address.
function withSourceAddresses(fn) {
  const connect = net.connect;
  let next = 0;
  net.connect = (port, host) => connect({ port, host, localAddress: SOURCES[next++ % SOURCES.length] });
  return fn().finally(() => (net.connect = connect));
}

// utime + stime of one process, in clock ticks of 10 ms.
const cpuTicks = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

export async function sticky({ rounds = 3, seconds = 10, warmup = 1, connections = 50, log = () => {} } = {}) {
  const samples = Object.fromEntries(NAMES.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of NAMES) {
      await withTarget(name, async ({ port, pid }) => {
        await sleep(300);
        await withSourceAddresses(async () => {
          await load({ port, close: true, connections, seconds: warmup }).done;
          const before = cpuTicks(pid);
          const res = await load({ port, close: true, connections, seconds }).done;
          const primaryUs = (cpuTicks(pid) - before) * 10_000;
          const entry = {
            rps: Math.round(res.requests.total / (res.duration || seconds)),
            p99: res.latency.p99,
            primaryUsPerConn: res.requests.total ? primaryUs / res.requests.total : 0,
            failed: res.errors + res.non2xx,
          };
          samples[name].push(entry);
          log(`  sticky ${name.padEnd(11)} round ${round + 1} ${entry.rps} req/s, p99 ${entry.p99} ms, primary ${entry.primaryUsPerConn.toFixed(1)} µs CPU per connection, ${entry.failed} failed`);
        });
      });
    }
  }
  return { samples, params: { rounds, seconds, warmup, connections, sources: SOURCES.length } };
}

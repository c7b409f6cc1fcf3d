// Issue 4: detached mode and the control plane (status, reload, restart, scale, logs, stop),
// driven through the real CLI against a real daemon.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/control/protocol.ts';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, getJson } from '../helpers/http.ts';
import { isAlive, sleep, waitGone } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

interface Status {
  supervisors: Array<{ pid: number; mode: string; apps: Array<{ name: string; state: string; desired: number; generation: number; workers: Array<{ id: number; pid: number; state: string }> }> }>;
}

let home: CliHome;
let project: TmpProject;
const seenWorkers: number[] = [];

afterEach(async () => {
  await home?.dispose(seenWorkers.splice(0));
  project?.dispose();
});

async function status(): Promise<Status> {
  const result = await home.nsup(['status', '--json']);
  expect(result.exitCode, result.stderr).toBe(0);
  const doc = JSON.parse(result.stdout) as Status;
  seenWorkers.push(...doc.supervisors.flatMap((s) => s.apps.flatMap((a) => a.workers.map((w) => w.pid))).filter(Boolean));
  return doc;
}

const pidsOf = (doc: Status) => doc.supervisors.flatMap((s) => s.apps.flatMap((a) => a.workers.map((w) => w.pid))).sort();

async function startDaemon(): Promise<{ port: number; script: string }> {
  home = cliHome();
  project = tmpProject();
  const port = await freePort();
  const script = project.fixture('reloadable.js');
  const result = await home.nsup(['start', script, '-d', '-n', 'web', '-i', '2', '--env', `PORT=${port}`]);
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stdout).toMatch(/web\s+running\s+2\/2 up/);
  return { port, script };
}

describe('control plane', () => {
  it('start -d returns once every worker is up; status lists them; reload swaps pids; broken reload exits 1 and old pids serve', async () => {
    const { port, script } = await startDaemon();
    const first = await status();
    expect(first.supervisors).toHaveLength(1);
    expect(first.supervisors[0]!.mode).toBe('daemon');
    const pids = pidsOf(first);
    expect(pids).toHaveLength(2);
    const table = await home.nsup(['status']);
    for (const pid of pids) expect(table.stdout).toContain(String(pid));
    expect(table.stdout).not.toContain('\u001b[');

    const reload = await home.nsup(['reload', 'web']);
    expect(reload.exitCode, reload.stderr).toBe(0);
    expect(reload.stdout).toMatch(/^web: reloaded to generation 2 in \d+ ms$/m);
    const after = pidsOf(await status());
    expect(after).toHaveLength(2);
    for (const pid of pids) expect(after).not.toContain(pid);

    writeFileSync(script, `throw new Error('bad deploy');\n`);
    const broken = await home.nsup(['reload', 'web']);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toMatch(/web: reload failed: worker 0 of the new generation exited before it was up: .*bad deploy/);
    expect(pidsOf(await status())).toEqual(after);
    expect(after).toContain((await getJson(port)).pid);

    const stop = await home.nsup(['stop', 'web']);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(await waitGone(after)).toEqual([]);
    expect(home.daemonPids()).toEqual([]);
    expect((await home.nsup(['status'])).stdout).toMatch(/nothing is running/);
  });

  it('scale 3 then 1, logs -n and -f, restart, and refuses a duplicate name', async () => {
    const { port, script } = await startDaemon();
    expect((await home.nsup(['scale', 'web', '3'])).stdout).toMatch(/web: 2 → 3 workers/);
    expect(pidsOf(await status())).toHaveLength(3);
    expect((await home.nsup(['scale', 'web', '-2'])).stdout).toMatch(/web: 3 → 1 workers/);
    const doc = await status();
    expect(doc.supervisors[0]!.apps[0]!.workers.map((w) => w.id)).toEqual([0]);

    const logs = await home.nsup(['logs', 'web', '-n', '3']);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout.trim().split('\n')).toHaveLength(3);
    expect(logs.stdout).toMatch(/stopped \(scale-down\)|stopping → exited/);

    const follow = home.spawn(['logs', 'web', '-f', '-n', '0'], { timeoutMs: 8000 });
    const followedLines: string[] = [];
    const followed = new Promise<void>((resolve) => {
      createInterface({ input: follow.stdout! }).on('line', (line) => {
        followedLines.push(line);
        if (line.includes('slow request followed started')) resolve();
      });
      void follow.then(() => resolve());
    });
    // The follower says nothing once it is subscribed (-n 0): make tagged lines until the first
    // one reaches it, or it ends (its 8 s timeout).
    let done = false;
    void followed.then(() => (done = true));
    while (!done) {
      await getJson(port, '/?delay=1&tag=followed');
      await Promise.race([followed, sleep(100)]);
    }
    follow.kill();
    await follow;
    expect(followedLines.join('\n')).toMatch(/ web:0 pid=\d+ gen=1 out \| slow request followed started$/m);

    const restart = await home.nsup(['restart', 'web']);
    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(pidsOf(await status())).not.toEqual(pidsOf(doc));

    const dup = await home.nsup(['start', script, '-n', 'web', '--env', `PORT=${port}`]);
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toMatch(/app 'web' is already running under nsup supervisor \d+/);

    expect((await home.nsup(['reload', 'nope'])).stderr).toMatch(/no app named 'nope' is running \(running: web\)/);
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
  });

  it('keeps its runtime dir 0700 and socket 0600, and survives garbage on the socket', async () => {
    await startDaemon();
    expect(statSync(home.home).mode & 0o777).toBe(0o700);
    const [pid] = home.daemonPids();
    const socket = join(home.home, `${pid}.sock`);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(statSync(join(home.home, 'web.log')).mode & 0o777).toBe(0o600);

    const replies = await Promise.all([
      exchange(socket, Buffer.from('GET / HTTP/1.1\r\n\r\n')),
      exchange(socket, encodeFrame({ v: 1, id: 7, cmd: 'launch-missiles' })),
      exchange(socket, encodeFrame({ v: 9, id: 8, cmd: 'status' })),
      exchange(socket, encodeFrame('just a string')),
      exchange(socket, Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('{nope')])),
      exchange(socket, Buffer.from([0, 0, 0, 50, 123])),
      ...Array.from({ length: 20 }, (_, i) => exchange(socket, randomBytes(i * 37 + 1))),
      ...Array.from({ length: 20 }, (_, i) => exchange(socket, encodeFrame(randomJson(i)))),
    ]);
    expect(replies[0]![0]!.error.code).toBe('NSUP_ERR_CONTROL_PROTOCOL');
    expect(replies[1]![0]!.error).toMatchObject({ code: 'NSUP_ERR_CONTROL_UNKNOWN_COMMAND' });
    expect(replies[1]![0]!.id).toBe(7);
    expect(replies[2]![0]!.error.message).toMatch(/version/);
    expect(replies[3]![0]!.ok).toBe(false);
    expect(replies[4]![0]!.error.code).toBe('NSUP_ERR_CONTROL_PROTOCOL');
    expect(replies[5]![0]!.error.message).toMatch(/incomplete frame/);
    for (const reply of replies.slice(6)) for (const frame of reply) expect(frame.ok).toBe(false);
    // Still alive and answering.
    expect(isAlive(pid!)).toBe(true);
    expect(pidsOf(await status())).toHaveLength(2);
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
  });

  it('SIGTTIN/SIGTTOU scale by one, SIGUSR2 reopens the log file after logrotate moved it', async () => {
    await startDaemon();
    const [pid] = home.daemonPids();
    const workers = async () => pidsOf(await status()).length;
    process.kill(pid!, 'SIGTTIN');
    await waitUntil(async () => (await workers()) === 3, '3 workers after SIGTTIN');
    // Standard signals do not queue: send the second one after the first took effect.
    process.kill(pid!, 'SIGTTOU');
    await waitUntil(async () => (await workers()) === 2, '2 workers after SIGTTOU');
    process.kill(pid!, 'SIGTTOU');
    await waitUntil(async () => (await workers()) === 1, '1 worker after a second SIGTTOU');
    const log = join(home.home, 'web.log');
    renameSync(log, `${log}.1`);
    process.kill(pid!, 'SIGUSR2');
    await waitUntil(async () => existsSync(log) && readFileSync(log, 'utf8').includes('log files reopened'), 'a new web.log');
    expect(readFileSync(`${log}.1`, 'utf8')).toContain('listening');
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
  });

  it('--log-max-size rotates <app>.log to <app>.log.1', async () => {
    home = cliHome();
    project = tmpProject();
    const port = await freePort();
    const script = project.fixture('http-ok.js');
    const started = await home.nsup(['start', script, '-d', '-n', 'chatty', '-i', '1', '--log-max-size', '4KB', '--env', `PORT=${port}`]);
    expect(started.exitCode, started.stderr).toBe(0);
    // Every slow request logs a line; a few dozen overflow 4 KB several times over.
    for (let i = 0; i < 60; i++) await getJson(port, `/?delay=1&tag=${'x'.repeat(100)}${i}`);
    const log = join(home.home, 'chatty.log');
    await waitUntil(async () => existsSync(`${log}.1`), 'a rotated chatty.log.1');
    expect(statSync(log).size).toBeLessThanOrEqual(4096 + 1024);
    expect(statSync(`${log}.1`).size).toBeGreaterThan(3000);
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
  });

  it('says clearly when nothing is running', async () => {
    home = cliHome();
    project = tmpProject();
    const reload = await home.nsup(['reload', 'web']);
    expect(reload.exitCode).toBe(1);
    expect(reload.stderr).toMatch(/nothing is running: no live nsup supervisor in .*\. Start one with: nsup start app\.js -d/);
    // A stale socket (nobody listening) is cleaned up, not reported as running.
    const stale = net.createServer().listen(join(home.home, '999999.sock'));
    await new Promise((resolve) => stale.once('listening', resolve));
    stale.close();
    writeFileSync(join(home.home, '999998.sock'), '');
    const status = await home.nsup(['status', '--json']);
    expect(JSON.parse(status.stdout)).toEqual({ supervisors: [] });
    expect(home.daemonPids()).toEqual([]);
  });
});

/** Send bytes, collect reply frames until the server closes or 6 s pass. */
function exchange(path: string, bytes: Buffer): Promise<Array<{ ok?: boolean; id?: number | null; error: { code: string; message: string } }>> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    const decoder = new FrameDecoder();
    const frames: Array<{ ok?: boolean; id?: number | null; error: { code: string; message: string } }> = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(frames);
    };
    const timer = setTimeout(done, 6000);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => {
      for (const item of decoder.push(chunk)) if (item.ok) frames.push(item.value as never);
      // The server may keep the connection open after a reply: 50 ms of quiet means no more frames.
      if (frames.length > 0 && decoder.pending() === 0) setTimeout(done, 50);
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}

let seed = 42;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}
function randomBytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
}
function randomJson(i: number): unknown {
  const values = [null, 42, 'status', [1, 2], { v: 1 }, { v: 1, id: 'x', cmd: 'status' }, { v: 1, id: i, cmd: 42 }, { v: 1, id: i, cmd: 'status', args: 'no' }, { cmd: 'stop', args: { app: 'all' } }];
  return values[i % values.length];
}

/** Poll (bounded) a state of the daemon that no event announces to the test: status, log files. */
async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

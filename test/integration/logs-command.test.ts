// Issue 13: `nsup logs` finds lines: in a daemon's files and their rotated (and gzipped) siblings,
// merged with a separate err file, in a foreground supervisor's memory, and in a stopped daemon's
// leftover file; filtered by time, regex, worker and stream; as JSON; followed; flushed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, getJson } from '../helpers/http.ts';
import { cleanupAll, sleep, startNsup } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';
import { changed, until } from '../helpers/until.ts';

let home: CliHome | undefined;
let project: TmpProject | undefined;

afterEach(async () => {
  await cleanupAll();
  await home?.dispose();
  project?.dispose();
  home = undefined;
  project = undefined;
});

// `<ISO time> web:<slot> pid=<pid> gen=<gen> <out|err> | <msg>`: a worker line as nsup logs prints it.
const WORKER_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\w+):(\d) pid=\d+ gen=\d+ (out|err) \| (.*)$/;
const linesOf = (stdout: string) => stdout.split('\n').filter((l) => l !== '');
const msgsOf = (stdout: string) => linesOf(stdout).map((l) => WORKER_LINE.exec(l)?.[4] ?? `other: ${l}`);

async function setup(): Promise<{ home: CliHome; project: TmpProject; port: number; script: string }> {
  home = cliHome();
  project = tmpProject();
  return { home, project, port: await freePort(), script: project.fixture('log-lines.js') };
}

async function startDaemon(h: CliHome, script: string, port: number, extra: string[] = []): Promise<void> {
  const started = await h.nsup(['start', script, '-d', '-n', 'web', '-i', '2', '--env', `PORT=${port}`, ...extra]);
  expect(started.exitCode, started.stderr).toBe(0);
}

/** Requests tagged `<tag>-<k>` (each prints n lines per stream) until both workers answered; the tags each one printed. */
async function fromBothWorkers(port: number, tag: string, n = 1): Promise<Map<number, string[]>> {
  const seen = new Map<number, string[]>();
  for (let k = 0; seen.size < 2; k++) {
    if (k >= 20) throw new Error(`20 requests tagged ${tag} reached only worker ${[...seen.keys()].join(', ')}`);
    const { worker } = await getJson<{ worker: number }>(port, `/?tag=${tag}-${k}&n=${n}`);
    seen.set(worker, [...(seen.get(worker) ?? []), `${tag}-${k}`]);
  }
  return seen;
}

/** `nsup logs` again (bounded) until its output holds what `check` wants: lines reach the files a moment after the worker wrote them. */
async function logsUntil(h: CliHome, args: string[], check: (stdout: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await h.nsup(['logs', ...args]);
    expect(result.exitCode, result.stderr).toBe(0);
    if (check(result.stdout)) return result.stdout;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last output:\n${result.stdout.slice(-2000)}`);
    await sleep(100);
  }
}

/** A log file's text; '' while a rotation has moved it and not yet made the new one. */
function contents(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** A moment strictly after every line stamped so far, and before every line stamped from now on. */
async function clockMark(): Promise<number> {
  const mark = Date.now() + 1;
  while (Date.now() <= mark) await new Promise((resolve) => setImmediate(resolve));
  return mark;
}

describe('nsup logs on a daemon with rotated files', () => {
  it('finds lines only in rotated files; --grep, --worker, --stream, --since/--until, --json and -n', async () => {
    const { home, port, script } = await setup();
    const t0 = await clockMark();
    await startDaemon(home, script, port, ['--log-max-size', '4KB', '--log-keep', '3']);
    const early = await fromBothWorkers(port, 'early');
    await logsUntil(home, ['web', '--grep', '^early-'], (out) => linesOf(out).length === 2 * (early.get(0)!.length + early.get(1)!.length), 'the early lines in the file');
    const mark = await clockMark();

    // Filler until the early lines have left web.log: they are then only in web.log.N.
    const log = join(home.home, 'web.log');
    for (let k = 0; contents(log).includes('early-'); k++) {
      if (k >= 40) throw new Error('40 filler requests did not rotate the early lines out of web.log');
      await getJson(port, `/?tag=fill-${k}&n=10`);
    }
    const rotated = readdirSync(home.home).filter((name) => /^web\.log\.\d+$/.test(name));
    expect(rotated.some((name) => contents(join(home.home, name)).includes('early-'))).toBe(true);
    const late = await fromBothWorkers(port, 'late');
    await logsUntil(home, ['web', '--grep', '^late-'], (out) => linesOf(out).length === 2 * (late.get(0)!.length + late.get(1)!.length), 'the late lines in the file');

    const grep = await home.nsup(['logs', 'web', '--grep', '^early-']);
    expect(grep.exitCode, grep.stderr).toBe(0);
    const expected = [...early].flatMap(([worker, tags]) => tags.flatMap((tag) => [`${tag} w${worker} out 0`, `${tag} w${worker} err 0`]));
    expect(msgsOf(grep.stdout).sort()).toEqual(expected.sort());
    for (const line of linesOf(grep.stdout)) expect(line).toMatch(WORKER_LINE);

    const worker1 = linesOf((await home.nsup(['logs', 'web', '--grep', '^(early|late)-', '--worker', '1'])).stdout);
    expect(worker1).toHaveLength(2 * (early.get(1)!.length + late.get(1)!.length));
    for (const line of worker1) expect(line).toMatch(/ web:1 pid=\d+ gen=1 (out|err) \| \S+ w1 (out|err) 0$/);

    const errs = linesOf((await home.nsup(['logs', 'web', '--grep', '^early-', '--stream', 'err'])).stdout);
    expect(errs).toHaveLength(early.get(0)!.length + early.get(1)!.length);
    for (const line of errs) expect(line).toMatch(/ err \| early-\d+ w[01] err 0$/);

    const events = linesOf((await home.nsup(['logs', 'web', '--stream', 'nsup', '-n', '3'])).stdout);
    expect(events).toHaveLength(3);
    for (const line of events) expect(line).toMatch(/^\S+Z (web )?nsup \w+ \| /);

    // --since/--until around the mark between the early and the late lines: a date, and durations ago.
    const since = await home.nsup(['logs', 'web', '--since', new Date(mark).toISOString(), '--grep', '^(early|late)-']);
    expect(msgsOf(since.stdout).every((m) => m.startsWith('late-'))).toBe(true);
    expect(linesOf(since.stdout)).toHaveLength(2 * (late.get(0)!.length + late.get(1)!.length));
    const until = await home.nsup(['logs', 'web', '--until', new Date(mark).toISOString(), '--grep', '^(early|late)-']);
    expect(msgsOf(until.stdout).sort()).toEqual(expected.sort());
    expect(linesOf((await home.nsup(['logs', 'web', '--since', '1h', '--grep', '^(early|late)-'])).stdout)).toHaveLength(linesOf(since.stdout).length + linesOf(until.stdout).length);
    const none = await home.nsup(['logs', 'web', '--until', '1h']);
    expect([none.exitCode, none.stdout]).toEqual([0, '']);

    // Every line since the start, in time order, across the rotated files: more than -n's default.
    const all = linesOf((await home.nsup(['logs', 'web', '--since', new Date(t0).toISOString(), '--json'])).stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(all.length).toBeGreaterThan(20);
    const times = all.map((r) => Date.parse(r.time as string));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const lateRecord = all.find((r) => typeof r.msg === 'string' && r.msg.startsWith('late-'));
    expect(lateRecord).toMatchObject({ app: 'web', gen: 1, worker: expect.any(Number), pid: expect.any(Number), stream: expect.stringMatching(/^(out|err)$/) });
    expect(all.find((r) => /^worker 1 of web \(pid \d+\) .*listening/.test(String(r.msg)))).toMatchObject({ app: 'web', level: 'info' });

    expect(linesOf((await home.nsup(['logs', 'web'])).stdout)).toHaveLength(20);
    const last3 = await home.nsup(['logs', 'web', '-n', '3', '--grep', '^late-']);
    expect(linesOf(last3.stdout)).toEqual(linesOf(since.stdout).slice(-3));
    expect((await home.nsup(['stop', 'web'])).exitCode).toBe(0);
  });

  it('-f follows new matching records until the supervisor stops; --flush empties the files and deletes the rotated ones', async () => {
    const { home, port, script } = await setup();
    await startDaemon(home, script, port, ['--log-max-size', '4KB', '--log-keep', '3']);
    for (let k = 0; !existsSync(join(home.home, 'web.log.1')); k++) {
      if (k >= 40) throw new Error('40 requests did not rotate web.log');
      await getJson(port, `/?tag=fill-${k}&n=10`);
    }

    const follow = home.spawn(['logs', 'web', '-f', '-n', '0', '--stream', 'err', '--grep', '^followed-'], { timeoutMs: 30_000 });
    const followed: string[] = [];
    createInterface({ input: follow.stdout! }).on('line', (line) => {
      followed.push(line);
      changed();
    });
    void follow.finally(changed);
    let exited: string | undefined;
    void follow.then((r) => (exited = `the follower exited (${r.exitCode ?? r.signal}): ${String(r.stderr)}`));
    const ended = () => exited;
    // The follower prints nothing until a matching record comes (-n 0): make tagged lines until
    // one reaches it, so it is surely subscribed.
    for (let k = 0; followed.length === 0; k++) {
      if (k >= 50 || ended()) throw new Error(`the follower got nothing after ${k} requests${ended() ? `; ${ended()}` : ''}`);
      await getJson(port, `/?tag=followed-${k}&n=1`);
      await until(() => followed.length > 0, 'a first followed line', 100, ended).catch(() => {});
    }
    // From then on every new matching record comes, once each, in order: err lines only.
    const before = followed.length;
    for (let j = 0; j < 3; j++) await getJson(port, `/?tag=followed-more-${j}&n=2`);
    await until(() => followed.length >= before + 6, 'the next 6 followed lines', 10_000, ended);
    expect(followed.slice(before).map((l) => WORKER_LINE.exec(l)?.[4])).toEqual(
      [0, 1, 2].flatMap((j) => [0, 1].map((i) => expect.stringMatching(new RegExp(`^followed-more-${j} w[01] err ${i}$`)))),
    );
    for (const line of followed) expect(line).toMatch(/ web:[01] pid=\d+ gen=1 err \| followed-\S+ w[01] err \d$/);

    const flush = await home.nsup(['logs', 'web', '--flush']);
    expect(flush.exitCode, flush.stderr).toBe(0);
    expect(linesOf(flush.stdout)).toContain(`flushed ${join(home.home, 'web.log')}`);
    expect(readdirSync(home.home).filter((name) => name.startsWith('web.log.'))).toEqual([]);
    expect((await home.nsup(['logs', 'web', '--grep', '^(fill|followed)-'])).stdout).toBe('');
    // Written again after the flush, from the start of the emptied file.
    await getJson(port, '/?tag=after-flush&n=1');
    await logsUntil(home, ['web', '--grep', '^after-flush'], (out) => linesOf(out).length === 2, 'the lines written after the flush');
    expect(readFileSync(join(home.home, 'web.log'), 'utf8')).not.toContain('\u0000');

    const settled = followed.length;
    expect((await home.nsup(['stop', 'web'])).exitCode).toBe(0);
    const exit = await Promise.race([follow, sleep(10_000).then(() => null)]);
    expect(exit?.exitCode, 'the follower ends when the supervisor stops').toBe(0);
    expect(followed.length).toBe(settled);
  });
});

describe('nsup logs elsewhere', () => {
  it('a separate err file, rotated with gzip: merged with the out file in time order; --stream err reads only it', async () => {
    const { home, project, port, script } = await setup();
    const outFile = project.path('out.log');
    const errFile = project.path('err.log');
    const t0 = await clockMark();
    await startDaemon(home, script, port, ['--log-file', outFile, '--error-file', errFile, '--log-max-size', '4KB', '--log-keep', '3', '--log-compress']);
    for (let k = 0; !existsSync(`${errFile}.1.gz`) || !existsSync(`${outFile}.1.gz`); k++) {
      if (k >= 60) throw new Error(`60 requests did not rotate both files to .1.gz: ${readdirSync(project.dir).join(', ')}`);
      await getJson(port, `/?tag=both-${k}&n=10`);
    }
    await getJson(port, '/?tag=last-0&n=1');
    await logsUntil(home, ['web', '--grep', '^last-'], (out) => linesOf(out).length === 2, 'the last lines in both files');
    const records = linesOf((await home.nsup(['logs', 'web', '--since', new Date(t0).toISOString(), '--json'])).stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    const times = records.map((r) => Date.parse(r.time as string));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Worker lines of both files, and nsup's events (stream 'nsup').
    expect([...new Set(records.map((r) => r.stream))].sort()).toEqual(['err', 'nsup', 'out']);
    // The first both-0 lines were rotated into gzip files and are found there.
    const first = records.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('both-0 '));
    expect(first.map((r) => r.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^both-0 w\d out 0$/), expect.stringMatching(/^both-0 w\d err 0$/)]));
    expect(contents(outFile)).not.toContain('both-0 ');
    expect(readdirSync(project.dir).filter((name) => /\.log\.\d+$/.test(name))).toEqual([]);
    const errs = linesOf((await home.nsup(['logs', 'web', '--stream', 'err', '-n', '50'])).stdout);
    expect(errs).toHaveLength(50);
    for (const line of errs) expect(line).toMatch(/ err \| \S+ w[01] err \d+$/);
    expect((await home.nsup(['stop', 'web'])).exitCode).toBe(0);
  });

  it("a foreground supervisor without files: its memory, with the same filters and -f", async () => {
    const { home, port, script } = await setup();
    const nsup = startNsup(['start', script, '-n', 'fg', '-i', '2', '--env', `PORT=${port}`], { env: { NSUP_HOME: home.home } });
    await nsup.waitForCount((e) => e.event === 'worker.state' && e.to === 'listening', 2, 'both workers listening');
    const mem = await fromBothWorkers(port, 'mem', 2);
    const expectedCount = 4 * (mem.get(0)!.length + mem.get(1)!.length);
    const all = await logsUntil(home, ['fg', '--grep', '^mem-', '-n', '100'], (out) => linesOf(out).length === expectedCount, "the mem lines in the supervisor's memory");
    expect(existsSync(join(home.home, 'fg.log'))).toBe(false);
    expect(msgsOf(all).sort()).toEqual([...mem].flatMap(([w, tags]) => tags.flatMap((t) => [0, 1].flatMap((i) => [`${t} w${w} out ${i}`, `${t} w${w} err ${i}`]))).sort());

    const w0out = await home.nsup(['logs', 'fg', '--grep', '^mem-', '--worker', '0', '--stream', 'out']);
    expect(msgsOf(w0out.stdout)).toEqual(mem.get(0)!.flatMap((t) => [`${t} w0 out 0`, `${t} w0 out 1`]));
    const json = linesOf((await home.nsup(['logs', 'fg', '--grep', '^mem-', '-n', '2', '--json'])).stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.map((r) => r.msg)).toEqual(msgsOf(all).slice(-2));
    for (const record of json) expect(record).toMatchObject({ app: 'fg', gen: 1, pid: expect.any(Number), worker: expect.any(Number), stream: expect.stringMatching(/^(out|err)$/), time: expect.stringMatching(/Z$/) });
    const events = await home.nsup(['logs', 'fg', '--stream', 'nsup', '--grep', 'listening']);
    expect(linesOf(events.stdout).length).toBeGreaterThanOrEqual(2);

    const follow = home.spawn(['logs', 'fg', '-f', '-n', '0', '--worker', '1', '--grep', '^tail-'], { timeoutMs: 20_000 });
    const followed: string[] = [];
    const arrived = new Promise<void>((resolve) => {
      createInterface({ input: follow.stdout! }).on('line', (line) => {
        followed.push(line);
        if (line.includes(' w1 err ')) resolve();
      });
      void follow.then(() => resolve());
    });
    let done = false;
    void arrived.then(() => (done = true));
    for (let k = 0; !done; k++) {
      if (k >= 50) throw new Error(`the follower got nothing after 50 requests; it printed: ${followed.join('\n')}`);
      await getJson(port, `/?tag=tail-${k}&n=1`);
      await Promise.race([arrived, sleep(100)]);
    }
    for (const line of followed) expect(line).toMatch(/ fg:1 pid=\d+ gen=1 (out|err) \| tail-\d+ w1 (out|err) 0$/);
    follow.kill();
    await follow;

    const flush = await home.nsup(['logs', 'fg', '--flush']);
    expect([flush.exitCode, flush.stdout]).toEqual([0, 'fg has no log file; the supervisor forgot its recent lines']);
    expect((await home.nsup(['logs', 'fg', '--grep', '^(mem|tail)-'])).stdout).toBe('');
  });

  it("a stopped daemon's leftover file: read, nothing to follow, flushed; no file at all is an error", async () => {
    const { home, port, script } = await setup();
    await startDaemon(home, script, port);
    const left = await fromBothWorkers(port, 'left');
    await logsUntil(home, ['web', '--grep', '^left-'], (out) => linesOf(out).length === 2 * (left.get(0)!.length + left.get(1)!.length), 'the lines in web.log');
    expect((await home.nsup(['stop', 'web'])).exitCode).toBe(0);
    expect(home.daemonPids()).toEqual([]);

    const read = await home.nsup(['logs', 'web', '--grep', '^left-', '--worker', '0']);
    expect(read.exitCode, read.stderr).toBe(0);
    expect(msgsOf(read.stdout)).toEqual(left.get(0)!.flatMap((t) => [`${t} w0 out 0`, `${t} w0 err 0`]));
    const follow = await home.nsup(['logs', 'web', '-f', '-n', '2']);
    expect(follow.exitCode).toBe(1);
    expect(linesOf(follow.stdout)).toHaveLength(2);
    expect(follow.stderr).toMatch(/no supervisor runs 'web': nothing to follow \(the lines above are from its last log file, .*web\.log\)/);

    const flush = await home.nsup(['logs', 'web', '--flush']);
    expect([flush.exitCode, flush.stdout]).toEqual([0, `flushed ${join(home.home, 'web.log')}`]);
    expect(await home.nsup(['logs', 'web'])).toMatchObject({ exitCode: 0, stdout: '' });

    const missing = await home.nsup(['logs', 'nope']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`no supervisor runs 'nope' and there is no log file at ${join(home.home, 'nope.log')}. Check the name (nsup status lists what runs)`);
  });

  it('refuses bad values with exit 2, naming the flag and the accepted forms', async () => {
    const { home } = await setup();
    const cases: Array<[string[], RegExp]> = [
      [['--since', 'yesterday'], /--since "yesterday" is neither a duration nor a date; give a duration ago \('30s', '10m', '2h', '1d'\) or a date/],
      [['--grep', 'a('], /--grep "a\(" is not a valid regular expression: Invalid regular expression/],
      [['--worker', 'x'], /--worker takes a worker slot/],
      [['--stream', 'stdout'], /--stream takes out \(workers' stdout\), err \(workers' stderr\) or nsup/],
      [['-n', 'all'], /-n\/--lines takes a number of lines/],
      [['--flush', '--json'], /--flush empties the app's log files and takes no other flag \(got --json\)/],
    ];
    for (const [args, message] of cases) {
      const result = await home.nsup(['logs', 'web', ...args]);
      expect([result.exitCode, args]).toEqual([2, args]);
      expect(result.stderr).toMatch(message);
    }
    expect((await home.nsup(['logs', 'all'])).stderr).toMatch(/nsup logs takes one app name/);
  });
});

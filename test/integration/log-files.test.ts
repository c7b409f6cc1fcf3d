// Issue 13, the files: logFile/errorFile split the streams, /dev/null discards one, a config's
// relative logFile is the app's, SIGUSR2 reopens a file logrotate moved, and size rotation keeps
// the last copies gzipped. Foreground and daemon supervisors, real processes.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, getJson } from '../helpers/http.ts';
import { bothLines, fileUntil, scratch, ISO_UTC, linesOf, recordsOf, STREAMS, streamsArgs } from '../helpers/log-records.ts';
import { cleanupAll, startNsup, stopNsup } from '../helpers/run-nsup.ts';

const { newProject, newHome, dispose } = scratch();

afterEach(async () => {
  await cleanupAll();
  await dispose();
});

describe('logFile, errorFile, /dev/null', () => {
  it('foreground: --log-file gets stdout and events, --error-file stderr (text with times), the terminal still both; --error-file /dev/null discards stderr', async () => {
    const project = newProject();
    const [out, err, only] = ['out.log', 'err.log', 'only-out.log'].map((name) => project.path(name));
    const split = startNsup(await streamsArgs('web', 1, ['--log-file', out!, '--error-file', err!]), { rawLogFormat: true });
    const quiet = startNsup(await streamsArgs('web', 1, ['--log-file', only!, '--error-file', '/dev/null']), { rawLogFormat: true });
    for (const nsup of [split, quiet]) {
      await bothLines(nsup, 1);
      // The worker's lines can come before the primary saw it listen: stop only once the app runs.
      await nsup.waitForOutput((l) => l.endsWith('| web: starting → running'), 'web running');
      expect(await stopNsup(nsup)).toBe(0);
      expect(nsup.stdout.some((l) => l.includes('| stdout of worker 0 pid'))).toBe(true);
      expect(nsup.stderr.some((l) => l.includes('| stderr of worker 0 pid'))).toBe(true);
    }
    const outLines = linesOf(readFileSync(out!, 'utf8'));
    for (const line of outLines) expect(line).toMatch(ISO_UTC);
    const outRecords = recordsOf(outLines);
    expect(new Set(outRecords.map((r) => r.stream))).toEqual(new Set(['out', 'nsup']));
    expect(outRecords.some((r) => r.stream === 'nsup' && r.msg === 'web: starting → running')).toBe(true);
    expect(outRecords.filter((r) => r.stream === 'out').map((r) => r.msg)).toEqual([expect.stringMatching(/^stdout of worker 0 pid \d+$/)]);
    const errLines = linesOf(readFileSync(err!, 'utf8'));
    for (const line of errLines) expect(line).toMatch(ISO_UTC);
    expect(recordsOf(errLines).map((r) => [r.stream, r.msg])).toEqual([['err', expect.stringMatching(/^stderr of worker 0 pid \d+$/)]]);
    const onlyText = readFileSync(only!, 'utf8');
    expect(onlyText).toMatch(/ out \| stdout of worker 0 pid \d+\n/);
    expect(recordsOf(linesOf(onlyText)).filter((r) => r.stream === 'err')).toEqual([]);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(readdirSync(project.dir).sort()).toEqual(['err.log', 'only-out.log', 'out.log']);
  });

  it('daemon: --log-file/--error-file instead of <app>.log; --error-file /dev/null discards stderr', async () => {
    const home = newHome();
    const project = newProject();
    const [out, err, only] = ['out.log', 'err.log', 'only-out.log'].map((name) => project.path(name));
    for (const args of [await streamsArgs('web', 1, ['--log-file', out!, '--error-file', err!]), await streamsArgs('quiet', 1, ['--log-file', only!, '--error-file', '/dev/null'])]) {
      const started = await home.nsup([...args, '-d']);
      expect(started.exitCode, started.stderr).toBe(0);
    }
    await fileUntil(out!, (t) => t.includes('| stdout of worker 0 pid'), 'the stdout line in out.log');
    await fileUntil(err!, (t) => t.includes('| stderr of worker 0 pid'), 'the stderr line in err.log');
    await fileUntil(only!, (t) => t.includes('| stdout of worker 0 pid'), 'the stdout line in only-out.log');
    // Stopped, the supervisors have written and closed everything.
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
    const outRecords = recordsOf(linesOf(readFileSync(out!, 'utf8')));
    expect(new Set(outRecords.map((r) => r.stream))).toEqual(new Set(['out', 'nsup']));
    expect(outRecords.every((r) => Number.isFinite(r.time))).toBe(true);
    expect(recordsOf(linesOf(readFileSync(err!, 'utf8'))).map((r) => r.stream)).toEqual(['err']);
    const onlyRecords = recordsOf(linesOf(readFileSync(only!, 'utf8')));
    expect(onlyRecords.filter((r) => r.stream === 'out')).toHaveLength(1);
    expect(onlyRecords.filter((r) => r.stream === 'err')).toEqual([]);
    expect(readdirSync(home.home).filter((name) => name.endsWith('.log') && name !== 'nsup-daemon.log')).toEqual([]);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it("a config file's logFile: './logs/app.log' resolves against the app's cwd, and its directory is created", async () => {
    const project = newProject();
    mkdirSync(project.path('srv'));
    project.write('srv/streams.js', readFileSync(STREAMS, 'utf8'));
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'web', cwd: './srv', script: './streams.js', instances: 1, env: { PORT: '${await freePort()}' }, logFile: './logs/app.log' }] };`,
    );
    const nsup = startNsup(['start', '-c', config]);
    await bothLines(nsup, 1);
    expect(await stopNsup(nsup)).toBe(0);
    const records = recordsOf(linesOf(readFileSync(project.path('srv/logs/app.log'), 'utf8')));
    // errorFile defaults to logFile: both streams and the events in the one file.
    expect(new Set(records.map((r) => r.stream))).toEqual(new Set(['out', 'err', 'nsup']));
    expect(existsSync(project.path('logs'))).toBe(false);
  });
});

describe('reopen and rotation', () => {
  it('SIGUSR2 with logRotate: false: after the logFile was moved away, new lines go to a new file at its path', async () => {
    const home = newHome();
    const project = newProject();
    const port = await freePort();
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'web', script: ${JSON.stringify(STREAMS)}, instances: 1, env: { PORT: '${port}' }, logFile: './app.log', logRotate: false }] };`,
    );
    const started = await home.nsup(['start', '-c', config, '-d']);
    expect(started.exitCode, started.stderr).toBe(0);
    const [pid] = home.daemonPids();
    const log = project.path('app.log');
    const moved = project.path('app.log.moved');
    await getJson(port, '/?out=before-move');
    await fileUntil(log, (t) => t.includes('| before-move\n'), 'before-move in app.log');
    renameSync(log, moved);
    // The open file went with the rename: lines follow it until the reopen.
    await getJson(port, '/?out=while-moved');
    await fileUntil(moved, (t) => t.includes('| while-moved\n'), 'while-moved in the moved file');
    expect(existsSync(log)).toBe(false);
    process.kill(pid!, 'SIGUSR2');
    await fileUntil(log, (t) => t.includes('| SIGUSR2: log files reopened\n'), 'a new app.log');
    await getJson(port, '/?out=after-reopen&err=err-after-reopen');
    await fileUntil(log, (t) => t.includes('| after-reopen\n') && t.includes('| err-after-reopen\n'), 'after-reopen in the new app.log');
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
    const [oldText, newText] = [readFileSync(moved, 'utf8'), readFileSync(log, 'utf8')];
    expect(oldText).not.toContain('after-reopen');
    expect(newText).not.toMatch(/before-move|while-moved/);
    recordsOf(linesOf(oldText + newText));
    // Rotation off: no copies of its own next to the file.
    expect(readdirSync(project.dir).sort()).toEqual(['app.log', 'app.log.moved', 'supervisor.config.mjs']);
  });

  it('--log-max-size 4KB --log-keep 2 --log-compress: <app>.log.1.gz and .2.gz, never .3.gz, each gunzips to records in order', async () => {
    const home = newHome();
    const port = await freePort();
    const started = await home.nsup(['start', STREAMS, '-d', '-n', 'chatty', '-i', '1', '--env', `PORT=${port}`, '--log-max-size', '4KB', '--log-keep', '2', '--log-compress']);
    expect(started.exitCode, started.stderr).toBe(0);
    // ~20 KB of lines: five rotations or so, so that a third copy would have been made.
    for (let i = 0; i < 80; i++) await getJson(port, `/?out=line-${i}-${'y'.repeat(200)}`);
    const log = join(home.home, 'chatty.log');
    const gunzipped = (n: number) => {
      try {
        return gunzipSync(readFileSync(`${log}.${n}.gz`)).toString('utf8');
      } catch {
        return null; // absent, or still being written
      }
    };
    await fileUntil(log, (t) => t.includes('| line-79-') && gunzipped(1) !== null && gunzipped(2) !== null, 'the last line and two gzipped copies');
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
    expect(readdirSync(home.home).filter((name) => name.startsWith('chatty.log')).sort()).toEqual(['chatty.log', 'chatty.log.1.gz', 'chatty.log.2.gz']);
    // Oldest first: .2.gz, .1.gz, the current file; each one's lines are records, and their numbers only go up.
    const numbers = [gunzipped(2)!, gunzipped(1)!, readFileSync(log, 'utf8')].map((text) => {
      const records = recordsOf(linesOf(text));
      expect(records.length).toBeGreaterThan(0);
      for (const r of records) expect(Number.isFinite(r.time)).toBe(true);
      return records.map((r) => /^line-(\d+)-/.exec(r.msg)?.[1]).filter((n) => n !== undefined).map(Number);
    });
    const all = numbers.flat();
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(all.at(-1)).toBe(79);
    expect(numbers[0]!.length).toBeGreaterThan(0);
  });
});

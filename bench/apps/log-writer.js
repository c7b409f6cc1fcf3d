// Bench app for the `logs` scenario: an HTTP server (so every supervisor sees it up the usual way,
// with a marker file $BENCH_DIR/<pid> once it listens) that writes to stdout when the bench says
// so. The bench drops `$BENCH_DIR/go-1`, `go-2`… (JSON jobs, in order); each worker runs each job:
//   { mode: 'lines', lines }: `lines` lines of 100 bytes as fast as write() lets it (it waits for
//     'drain' whenever write returns false), then `bench-end <job> <pid>`;
//   { mode: 'long', mib }: the first worker to claim the job writes `mib` MiB of 'x' in 1 MiB
//     chunks without a newline (same backpressure), then '\n', then `bench-end <job> <pid>`;
//     the other worker writes nothing.
// The end line is its last write of a job: once the supervisor put it in the file, every earlier
// byte of that worker is there too (each supervisor keeps a worker's stream in order). A
// supervisor may also drop lines, the end line among them: after its last write() returned, each
// writer also drops `$BENCH_DIR/done-<job>-<pid>`.
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

const dir = process.env.BENCH_DIR;
const LINE_BYTES = 100;

const server = http.createServer((_req, res) => res.end('ok'));
server.listen(Number(process.env.PORT), () => writeFileSync(join(dir, String(process.pid)), String(Date.now())));

// write() returns false once the stream buffers more than its highWaterMark: wait until it drained.
// (PM2 replaces process.stdout.write in its workers with a function that returns undefined.)
async function write(chunk) {
  if (process.stdout.write(chunk) === false) await once(process.stdout, 'drain');
}

async function lines(n) {
  const head = `bench-line ${process.pid} `;
  for (let i = 0; i < n; i++) {
    const start = `${head}${i} `;
    await write(start + '.'.repeat(LINE_BYTES - 1 - start.length) + '\n');
  }
}

async function long(job, mib) {
  // One writer per job: the exclusive create fails for every worker but the first.
  try {
    writeFileSync(join(dir, `writer-${job}`), String(process.pid), { flag: 'wx' });
  } catch {
    return false;
  }
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  for (let i = 0; i < mib; i++) await write(chunk);
  await write('\n');
  return true;
}

// Jobs come as files (the same under every supervisor, none of which this app knows about),
// polled every 5 ms, which costs nothing measurable next to the writing.
function nextJob(job) {
  const path = join(dir, `go-${job}`);
  return new Promise((resolve) => {
    const check = () => (existsSync(path) ? resolve(JSON.parse(readFileSync(path, 'utf8'))) : setTimeout(check, 5).unref());
    check();
  });
}

// Not a top-level await: a module that never finishes loading could look unready to a supervisor.
void (async () => {
  for (let job = 1; ; job++) {
    const spec = await nextJob(job);
    const wrote = spec.mode === 'lines' ? (await lines(spec.lines), true) : await long(job, spec.mib);
    if (!wrote) continue;
    await write(`bench-end ${job} ${process.pid}\n`);
    writeFileSync(join(dir, `done-${job}-${process.pid}`), '');
  }
})();

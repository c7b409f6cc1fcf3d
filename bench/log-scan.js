// Reading the `logs` scenario's files as a supervisor writes them: the end lines of a job as they
// are appended (only the new bytes are read), then the whole lines and the bytes of the line that
// never ends, counted once the job is over. Lines are matched by their text, whatever prefix
// (time, app, worker…) the supervisor put before them.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

/** Each line bench/apps/log-writer.js writes, newline included. */
export const LINE_BYTES = 100;
const LINE_TOKEN = Buffer.from('bench-line ');
const MIB = 1024 * 1024;

/**
 * Counts the `bench-end <job> <pid>` lines appended to the files after this call (a file that
 * appears later is read from its start). poll() reads only what was appended since the last one;
 * lastGrowth() and lastEnd() are when a poll last read new bytes, and the last end line.
 */
export function endScanner(files, job) {
  const token = Buffer.from(`bench-end ${job} `);
  const open = new Map(); // path → { fd, offset, carry }
  const seen = new Set();
  const chunk = Buffer.allocUnsafe(4 * MIB);
  let lastGrowth = performance.now();
  let lastEnd = null;
  const track = (path, fromEnd) => {
    const fd = openSync(path, 'r');
    open.set(path, { fd, offset: fromEnd ? fstatSync(fd).size : 0, carry: Buffer.alloc(0) });
  };
  for (const path of files()) track(path, true);
  return {
    poll() {
      for (const path of files()) if (!open.has(path)) track(path, false);
      for (const file of open.values()) {
        for (let n = readSync(file.fd, chunk, 0, chunk.length, file.offset); n > 0; n = readSync(file.fd, chunk, 0, chunk.length, file.offset)) {
          file.offset += n;
          lastGrowth = performance.now();
          const buf = Buffer.concat([file.carry, chunk.subarray(0, n)]);
          let pos = 0;
          let keepFrom = Math.max(0, buf.length - token.length);
          for (let at = buf.indexOf(token, pos); at !== -1; at = buf.indexOf(token, pos)) {
            const nl = buf.indexOf(10, at);
            if (nl === -1) {
              keepFrom = at; // the end line is being written: read it whole next time
              break;
            }
            seen.add(buf.toString('latin1', at + token.length, nl));
            lastEnd = performance.now();
            pos = nl + 1;
            keepFrom = Math.max(pos, buf.length - token.length);
          }
          file.carry = Buffer.from(buf.subarray(keepFrom));
        }
      }
      return seen.size;
    },
    lastGrowth: () => lastGrowth,
    lastEnd: () => lastEnd,
    close() {
      for (const file of open.values()) closeSync(file.fd);
      open.clear();
    },
  };
}

/** Lines `…bench-line <pid> <i> ....` whose text from the token to the newline is whole (99 bytes), and the rest that carry the token. */
export function countLines(paths) {
  let intact = 0;
  let damaged = 0;
  const samples = []; // the first damaged lines, cut, for the JSON
  for (const path of paths) {
    const buf = readFileSync(path);
    let at = buf.indexOf(LINE_TOKEN);
    while (at !== -1) {
      const nl = buf.indexOf(10, at);
      const end = nl === -1 ? buf.length : nl;
      let next = buf.indexOf(LINE_TOKEN, at + 1);
      if (end - at === LINE_BYTES - 1 && (next === -1 || next > end)) intact++;
      else {
        damaged++;
        if (samples.length < 3) samples.push(buf.toString('latin1', buf.lastIndexOf(10, at) + 1, Math.min(end, at + 200)));
      }
      // A damaged line with several tokens counts once.
      while (next !== -1 && next < end) next = buf.indexOf(LINE_TOKEN, next + 1);
      at = next;
    }
  }
  return { intact, damaged, damagedLines: samples };
}

/** 'x' bytes in runs of at least 64 (the payload; a supervisor's prefixes and events have shorter runs). */
export function countX(paths) {
  let total = 0;
  for (const path of paths) {
    const buf = readFileSync(path);
    let run = 0;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] === 120) run++;
      else {
        if (run >= 64) total += run;
        run = 0;
      }
    }
    if (run >= 64) total += run;
  }
  return total;
}

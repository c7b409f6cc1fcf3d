// The CLI side of the control socket: find the running supervisors, send one request, read the
// reply (and streamed lines). Light on imports: `nsup status` must start fast.
// (not ES imports of node:fs/net: see cli/main.ts; status loads this file)
const { unlinkSync } = process.getBuiltinModule('node:fs');
const net = process.getBuiltinModule('node:net');
import { ControlError } from '../errors.ts';
import { FrameDecoder, PROTOCOL_VERSION, encodeFrame } from './protocol.ts';
import { listSocketFiles, runtimeDir } from './runtime-dir.ts';

/** A supervisor whose control socket answered. */
export interface LiveSupervisor {
  pid: number;
  path: string;
}

/** Every supervisor with a live socket in the runtime dir; stale sockets (nobody listening) are removed. */
export async function liveSupervisors(dir = runtimeDir()): Promise<LiveSupervisor[]> {
  const found = await Promise.all(
    listSocketFiles(dir).map(async ({ pid, path }) => {
      const alive = await canConnect(path);
      if (alive === 'stale') {
        try {
          unlinkSync(path);
        } catch {
          // someone else cleaned it up
        }
      }
      return alive === 'yes' ? { pid, path } : null;
    }),
  );
  return found.filter((s): s is LiveSupervisor => s !== null);
}

/** Send `cmd` to the supervisor at `path`; resolves with its result, rejects with a ControlError. */
export function request(
  path: string,
  cmd: string,
  args: Record<string, unknown> = {},
  opts: { timeoutMs?: number; onLine?: (line: string) => void } = {},
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const decoder = new FrameDecoder();
    let settled = false;
    const finish = (error: Error | null, result?: unknown) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(result);
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => finish(new ControlError(`no answer to '${cmd}' from ${path} within ${opts.timeoutMs} ms. Is the supervisor busy or hung? Check its log.`)), opts.timeoutMs)
      : null;
    socket.on('connect', () => socket.write(encodeFrame({ v: PROTOCOL_VERSION, id: 1, cmd, args })));
    socket.on('error', (error) => finish(new ControlError(`cannot reach the supervisor at ${path}: ${error.message}. Is it still running? (nsup status lists the live ones)`, { cause: error })));
    socket.on('close', () => finish(new ControlError(`the supervisor at ${path} closed the connection before answering '${cmd}'`)));
    socket.on('data', (chunk) => {
      for (const item of decoder.push(chunk)) {
        if (!item.ok) return finish(item.error);
        const frame = item.value as { stream?: string; line?: string; ok?: boolean; result?: unknown; error?: { code: string; message: string } };
        if (frame.stream === 'line' && typeof frame.line === 'string') opts.onLine?.(frame.line);
        else if (frame.ok === true) return finish(null, frame.result);
        else if (frame.ok === false) return finish(new ControlError(frame.error?.message ?? 'unknown error', { remoteCode: frame.error?.code }));
      }
    });
  });
}

function canConnect(path: string): Promise<'yes' | 'stale' | 'unknown'> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('unknown');
    }, 1000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('yes');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? 'stale' : 'unknown');
    });
  });
}

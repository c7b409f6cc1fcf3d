// The supervisor's control socket: one unix socket per running supervisor, length-prefixed JSON
// frames. Malformed, partial, oversized or unknown requests get an error reply; nothing a client
// sends can crash or block the supervisor.
import { chmodSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { NsupError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { FrameDecoder, PROTOCOL_VERSION, encodeFrame, parseRequest, type ControlRequest } from './protocol.ts';

/** How a handler answers: a result, or lines streamed until the client goes away. */
export interface HandlerContext {
  /** Send one streamed line (logs -f); returns false once the client is gone. */
  stream(line: string): boolean;
  /** Resolves when the client disconnects. */
  closed: Promise<void>;
}

/** A command handler: resolves with the result, or throws an NsupError (sent as an error reply). */
export type Handler = (args: Record<string, unknown>, ctx: HandlerContext) => Promise<unknown>;

// A connection that sends half a frame and stalls is answered and closed after this long.
const PARTIAL_FRAME_TIMEOUT_MS = 5000;

/** Listens on `path` (mode 0600) and dispatches requests to `handlers`. close() is idempotent. */
export class ControlServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly path: string;
  private readonly handlers: Record<string, Handler>;
  private readonly logger: Logger;
  private closing: Promise<void> | null = null;
  /** Requests being handled: close() lets them answer first (e.g. the `stop` that stops us). */
  private readonly inflight = new Set<Promise<void>>();

  constructor(options: { path: string; handlers: Record<string, Handler>; logger: Logger }) {
    this.path = options.path;
    this.handlers = options.handlers;
    this.logger = options.logger;
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /**
   * Start listening; the socket file is private to this user. It is bound under a name no client
   * looks for and renamed into place once it listens and is 0600: between bind() and listen() a
   * client would get ECONNREFUSED (and `nsup status` would remove the socket as stale).
   */
  listen(): Promise<void> {
    const bound = this.path.replace(/\.sock$/, '.bind');
    rmSync(bound, { force: true });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(bound, () => {
        try {
          chmodSync(bound, 0o600);
          renameSync(bound, this.path);
        } catch (error) {
          this.server.close();
          reject(error as Error);
          return;
        }
        this.server.off('error', reject);
        // From now on an 'error' (an accept failure) would throw without a listener and take the
        // primary down; the apps do not need the socket, so log it and keep supervising.
        this.server.on('error', (error) => this.onServerError(error));
        this.server.unref();
        resolve();
      });
    });
  }

  /** Stop accepting, let replies in flight go out, remove the socket file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.race([Promise.allSettled([...this.inflight]), sleep(1000)]);
      for (const socket of this.sockets) socket.end();
      setTimeout(() => {
        for (const socket of this.sockets) socket.destroy();
      }, 500).unref();
      await closed;
    })().finally(() => {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    });
    return this.closing;
  }

  private onServerError(error: Error): void {
    this.logger.error(
      { event: 'control.error', socket: this.path, code: (error as NodeJS.ErrnoException).code, err: error },
      `control socket ${this.path} failed: ${error.message}. The apps keep running, but nsup status/reload/stop cannot reach this supervisor until it is restarted; a SIGTERM (kill ${process.pid}) still stops it.`,
    );
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const decoder = new FrameDecoder();
    let closed!: () => void;
    const ctxClosed = new Promise<void>((resolve) => (closed = resolve));
    let partialTimer: NodeJS.Timeout | null = null;
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (partialTimer) clearTimeout(partialTimer);
      closed();
    });
    socket.on('error', () => socket.destroy());
    // Throws only when the value cannot be encoded (too big, not JSON); dispatch turns that into an error reply.
    const reply = (value: unknown) => {
      if (!socket.destroyed && socket.writable) socket.write(encodeFrame(value));
    };
    const replyError = (id: number | null, code: string, message: string) => reply({ v: PROTOCOL_VERSION, id, ok: false, error: { code, message } });
    // A streamed line is written from a log follower, deep in the output path: it must not throw there.
    const stream = (id: number, line: string) => {
      try {
        reply({ v: PROTOCOL_VERSION, id, stream: 'line', line });
      } catch {
        // a line too big for one frame: skip it, keep following
      }
      return !socket.destroyed;
    };
    socket.on('data', (chunk) => {
      // A throw here would escape the socket's emit as an uncaught exception; drop this client
      // instead, the supervisor and the other clients are unaffected.
      try {
        for (const item of decoder.push(chunk)) {
          if (!item.ok) {
            replyError(null, item.error.code, item.error.message);
            continue;
          }
          const parsed = parseRequest(item.value);
          if (!parsed.ok) replyError(parsed.id, parsed.error.code, parsed.error.message);
          else {
            const ctx = { stream: (line: string) => stream(parsed.request.id, line), closed: ctxClosed };
            const handling = this.dispatch(parsed.request, reply, replyError, ctx).finally(() => this.inflight.delete(handling));
            this.inflight.add(handling);
          }
        }
      } catch (error) {
        this.logger.error({ event: 'control.error', err: error }, `control request failed: ${(error as Error).message}; closing that client (nsup keeps running)`);
        socket.destroy();
        return;
      }
      if (decoder.failed) socket.end();
      if (partialTimer) clearTimeout(partialTimer);
      partialTimer = null;
      if (decoder.pending() > 0) {
        partialTimer = setTimeout(() => {
          try {
            replyError(null, 'NSUP_ERR_CONTROL_PROTOCOL', `incomplete frame: ${decoder.pending()} bytes and no more for ${PARTIAL_FRAME_TIMEOUT_MS} ms; closing`);
          } finally {
            socket.end();
          }
        }, PARTIAL_FRAME_TIMEOUT_MS);
      }
    });
  }

  // Never rejects (its promise is only kept in `inflight`): a failure becomes an error reply, and
  // a reply that cannot be sent either becomes a log line.
  private async dispatch(
    request: ControlRequest,
    reply: (value: unknown) => void,
    replyError: (id: number | null, code: string, message: string) => void,
    ctx: HandlerContext,
  ): Promise<void> {
    try {
      const handler = Object.hasOwn(this.handlers, request.cmd) ? this.handlers[request.cmd] : undefined;
      if (!handler) {
        return replyError(request.id, 'NSUP_ERR_CONTROL_UNKNOWN_COMMAND', `unknown command '${request.cmd}'; known: ${Object.keys(this.handlers).join(', ')}`);
      }
      try {
        // Called inside the try, so a handler that throws synchronously is caught like a rejection.
        const result = await handler(request.args ?? {}, ctx);
        reply({ v: PROTOCOL_VERSION, id: request.id, ok: true, result });
      } catch (error) {
        if (error instanceof NsupError) return replyError(request.id, error.code, error.message);
        this.logger.error({ event: 'control.error', cmd: request.cmd, err: error }, `control command ${request.cmd} failed: ${(error as Error).message}`);
        replyError(request.id, 'NSUP_ERR_CONTROL_INTERNAL', `internal error in '${request.cmd}': ${(error as Error).message}`);
      }
    } catch (error) {
      this.logger.error({ event: 'control.error', cmd: request.cmd, err: error }, `could not answer control command ${request.cmd}: ${(error as Error).message}; the client gets no reply, nsup keeps running`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

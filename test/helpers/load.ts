// Bounded HTTP load with autocannon (loopback only): start it, do things, stop it, read the counts.
import autocannon from 'autocannon';

/** What a load run saw. `failed` = errors + timeouts + non-2xx responses. */
export interface LoadResult {
  ok: number;
  failed: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  total: number;
}

/** A running load; stop() ends it and resolves with the counts. */
export interface Load {
  stop(): Promise<LoadResult>;
}

/** Start `connections` connections of continuous GETs against 127.0.0.1:port (at most `maxSeconds`). */
export function startLoad(port: number, opts: { connections?: number; close?: boolean; path?: string; maxSeconds?: number } = {}): Load {
  let resolveResult: (result: LoadResult) => void;
  let rejectResult: (error: Error) => void;
  const done = new Promise<LoadResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  const tracker = autocannon(
    {
      url: `http://127.0.0.1:${port}${opts.path ?? '/'}`,
      connections: opts.connections ?? 20,
      duration: opts.maxSeconds ?? 60,
      timeout: 10,
      headers: opts.close ? { connection: 'close' } : {},
    },
    (error: Error | null, result: autocannon.Result) => {
      if (error) return rejectResult(error);
      resolveResult({
        ok: result['2xx'],
        failed: result.errors + result.timeouts + result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        total: result.requests.total,
      });
    },
  );
  return {
    stop: () => {
      tracker.stop();
      return done;
    },
  };
}

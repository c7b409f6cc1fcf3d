// The dashboard's two actions, reload and scale: POST /api/apps/<name>/reload and
// POST /api/apps/<name>/scale with { "to": N } or { "delta": ±N }. Each needs the token
// (Authorization: Bearer <token>, token.ts); without it the answer is 401 and nothing runs.
import type http from 'node:http';
import type { Logger } from '../log/logger.ts';
import type { ReloadController } from '../supervisor/reload.ts';
import type { Supervisor } from '../supervisor/supervisor.ts';
import { bearerMatches } from './token.ts';

/** What the actions act on. */
export interface ActionDeps {
  supervisor: Supervisor;
  reloads: ReloadController;
  token: string;
  logger: Logger;
}

/** A JSON answer: status code and body. */
export interface Answer {
  status: number;
  body: unknown;
}

const MAX_BODY_BYTES = 1024;
// Scale by the page is bounded like a typo would be: nobody means 10 000 workers from a button.
const MAX_WORKERS = 1024;

/** True when the request carries the dashboard token. */
export function authorized(req: http.IncomingMessage, token: string): boolean {
  return bearerMatches(req.headers.authorization, token);
}

/** Run `action` on `app` for this request (the token already checked). */
export async function runAction(deps: ActionDeps, req: http.IncomingMessage, app: string, action: string): Promise<Answer> {
  const { supervisor, reloads, logger } = deps;
  if (!supervisor.apps.has(app)) return { status: 404, body: { error: `no app named '${app}' (apps: ${[...supervisor.apps.keys()].join(', ')})` } };
  if (action === 'reload') {
    logger.info({ event: 'dashboard.action', action, app }, `dashboard: reload of ${app} asked for`);
    const results = await reloads.request([app], 'dashboard');
    return { status: results.every((r) => r.ok) ? 200 : 409, body: { results } };
  }
  if (action === 'scale') {
    const body = await readJson(req);
    const change = scaleChange(body);
    if (typeof change === 'string') return { status: 400, body: { error: change } };
    logger.info({ event: 'dashboard.action', action, app, ...change }, `dashboard: scale of ${app} to ${'to' in change ? change.to : `${change.delta > 0 ? '+' : ''}${change.delta}`} asked for`);
    const result = await supervisor.appOp(app, 'scale', change);
    return { status: result.ok ? 200 : 409, body: { results: [result] } };
  }
  return { status: 404, body: { error: `unknown action '${action}'; the dashboard has reload and scale` } };
}

/** `{ to: N }` (1..1024) or `{ delta: ±N }` (a non-zero integer), or why the body is neither. */
export function scaleChange(body: unknown): { to: number } | { delta: number } | string {
  const expected = 'expected a JSON body like { "to": 3 } or { "delta": 1 }';
  if (typeof body !== 'object' || body === null) return expected;
  const { to, delta } = body as { to?: unknown; delta?: unknown };
  if (to !== undefined && delta === undefined && Number.isInteger(to) && (to as number) >= 1 && (to as number) <= MAX_WORKERS) return { to: to as number };
  if (delta !== undefined && to === undefined && Number.isInteger(delta) && delta !== 0 && Math.abs(delta as number) <= MAX_WORKERS) return { delta: delta as number };
  return `${expected} (to: 1 to ${MAX_WORKERS}; delta: a non-zero integer)`;
}

// The request's body as JSON (at most 1 KB); undefined when it is empty or not JSON.
async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

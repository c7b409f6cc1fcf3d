// The dashboard's routes on the metrics server (metrics/server.ts asks here first): the page and
// its assets, the read-only API (status, history, the live feed over server-sent events, a token
// check) and the two actions behind the token. Anything else falls through to /metrics & co.
import type http from 'node:http';
import type { SupervisorStatus } from '../control/types.ts';
import type { Logger } from '../log/logger.ts';
import type { ReloadController } from '../supervisor/reload.ts';
import type { Supervisor } from '../supervisor/supervisor.ts';
import { authorized, runAction } from './actions.ts';
import { asset } from './assets.ts';
import { LiveFeed } from './live.ts';
import { ensureToken } from './token.ts';

/** What the dashboard reads and acts on. */
export interface DashboardDeps {
  supervisor: Supervisor;
  reloads: ReloadController;
  /** The supervisor's status document (the one `nsup status --json` prints). */
  status: () => SupervisorStatus;
  /** The runtime dir: where dashboard.token is. */
  runtimeDir: string;
  /** The host the metrics server listens on: a loopback one admits only loopback Host headers. */
  host: string;
  logger: Logger;
}

/** A dashboard mounted on an HTTP server. */
export interface Dashboard {
  /** Answer the request if it is the dashboard's; false lets the caller answer it. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean;
  close(): void;
}

// The page runs only its own script: no inline script, nothing from elsewhere, no framing (the
// buttons must not be clickable through another site's frame). uPlot sets inline styles.
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** Create the dashboard: the token file (0600) and the once-a-second feed start now. */
export function createDashboard(deps: DashboardDeps): Dashboard {
  const token = ensureToken(deps.runtimeDir);
  const restartsOf = (app: string) => deps.supervisor.apps.get(app)?.counters.restarts ?? 0;
  const feed = new LiveFeed({ status: deps.status, restartsOf, logger: deps.logger });
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { ...PAGE_HEADERS, 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  return {
    handle(req, res, path) {
      const method = req.method ?? 'GET';
      const read = method === 'GET' || method === 'HEAD';
      const file = read ? asset(path) : null;
      if (!file && !path.startsWith('/api/')) return false;
      if (!hostAllowed(req.headers.host, deps.host)) {
        res.writeHead(403, { ...PAGE_HEADERS, 'content-type': 'text/plain' });
        res.end(`the dashboard answers only to a loopback Host (it listens on ${deps.host}), not to ${JSON.stringify(req.headers.host)}: open it as http://127.0.0.1 or http://localhost with its port, or set metrics.host to serve it under other names\n`);
        return true;
      }
      if (file) {
        res.writeHead(200, { ...PAGE_HEADERS, 'content-type': file.type, 'content-length': file.body.length });
        res.end(method === 'HEAD' ? undefined : file.body);
        return true;
      }
      if (read && path === '/api/events') feed.subscribe(req, res);
      else if (read && path === '/api/status') json(res, 200, feed.latest());
      else if (read && path === '/api/history') json(res, 200, feed.history.toJSON());
      // The page asks whether its token is right before it shows working buttons.
      else if (read && path === '/api/auth') json(res, authorized(req, token) ? 200 : 401, { ok: authorized(req, token) });
      else {
        const action = /^\/api\/apps\/([^/]+)\/(reload|scale)$/.exec(path);
        if (!action) json(res, 404, { error: `not found: ${path}` });
        else if (method !== 'POST') {
          res.setHeader('allow', 'POST');
          json(res, 405, { error: `${path} takes POST` });
        } else if (!authorized(req, token)) {
          res.setHeader('www-authenticate', 'Bearer realm="nsup"');
          json(res, 401, { error: `reload and scale need the dashboard token: Authorization: Bearer <the contents of ${deps.runtimeDir}/dashboard.token>` });
        } else {
          runAction({ ...deps, token }, req, decoded(action[1]!), action[2]!)
            .then((answer) => json(res, answer.status, answer.body))
            .catch((error: unknown) => json(res, 500, { error: (error as Error).message }));
        }
      }
      return true;
    },
    close: () => feed.close(),
  };
}

// A malformed %-escape is a name no app has (404), not an error of nsup's.
function decoded(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/**
 * Whether a request's Host header may reach the dashboard. On a loopback host only loopback names
 * pass: a page of another site whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own
 * name, and would otherwise read the status (stderr tails included) as if it were the dashboard's
 * own page. On any other host the user chose the names it is reached by (a proxy's job to check).
 * No Host at all is not a browser (HTTP/1.0 tools): allowed.
 */
export function hostAllowed(header: string | undefined, bound: string): boolean {
  if (!isLoopback(bound) || header === undefined) return true;
  const name = header.toLowerCase();
  return isLoopback(name.startsWith('[') ? name.slice(1, name.indexOf(']')) : name.replace(/:\d*$/, ''));
}

function isLoopback(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) || name === '::1' || name === '::ffff:127.0.0.1';
}

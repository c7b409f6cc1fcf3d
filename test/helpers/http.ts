// Small HTTP helpers for tests: a free port from the OS, and requests on fresh connections.
import http from 'node:http';
import net from 'node:net';

/** A port the OS says is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** GET on a new connection (no keep-alive pooling), bounded by `timeoutMs`. */
export function get(port: number, path = '/', opts: { timeoutMs?: number; agent?: http.Agent } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** GET and parse the JSON body. */
export async function getJson<T = Record<string, unknown>>(port: number, path = '/', opts?: { agent?: http.Agent }): Promise<T> {
  const res = await get(port, path, opts);
  if (res.status !== 200) throw new Error(`GET ${path}: status ${res.status}: ${res.body}`);
  return JSON.parse(res.body) as T;
}

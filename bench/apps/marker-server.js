// Bench app: a plain HTTP server that records the moment it listens in $BENCH_DIR/<pid>,
// so recovery time can be measured the same way under every supervisor.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

const server = http.createServer((_req, res) => res.end('ok'));
server.listen(Number(process.env.PORT), () => {
  if (process.env.BENCH_DIR) writeFileSync(join(process.env.BENCH_DIR, String(process.pid)), String(Date.now()));
});

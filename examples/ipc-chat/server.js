// Chat fan-out with nsup/worker: a message posted to any worker is sent to every worker, so each
// one holds the same room and can serve it; worker 0 also keeps the cluster-wide count.
import http from 'node:http';
import { on, request, send, workerId } from 'nsup/worker';

const port = Number(process.env.PORT ?? 3000);
const room = []; // the last 50 messages, the same on every worker
let total = 0; // on worker 0: every message the cluster has seen
let posted = 0;

on('chat', (message) => {
  room.push(message);
  if (room.length > 50) room.shift();
  if (workerId === 0) total++;
});
// Worker 0 answers requests for the count and (for workers that start later) the room so far.
if (workerId === 0) {
  on('stats', () => ({ total }));
  on('room', () => room);
}

const routes = {
  // POST /say?user=ann&text=hi → every worker gets it; answers with the cluster's count.
  'POST /say': async (url) => {
    const id = `${workerId}:${process.pid}:${++posted}`;
    const message = { id, user: url.searchParams.get('user') ?? 'anon', text: url.searchParams.get('text') ?? '', at: new Date().toISOString() };
    send('all', 'chat', message);
    // Worker 0 handles the message before this request: the count includes it.
    const { total } = await request(0, 'stats');
    return { ok: true, total };
  },
  'GET /messages': async () => ({ servedBy: workerId, messages: room }),
  'GET /stats': async () => ({ servedBy: workerId, ...(await request(0, 'stats', undefined, { timeout: 1000 })) }),
};

http
  .createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = routes[`${req.method} ${url.pathname}`];
    res.setHeader('content-type', 'application/json');
    try {
      res.end(JSON.stringify(route ? await route(url) : { error: 'try POST /say?user=ann&text=hi, GET /messages, GET /stats' }) + '\n');
    } catch (error) {
      // E.g. worker 0 is restarting: NSUP_ERR_IPC_NO_TARGET, or a timeout.
      res.statusCode = 503;
      res.end(JSON.stringify({ error: error.message, code: error.code }) + '\n');
    }
  })
  .listen(port, () => console.log(`ipc-chat worker ${workerId} listening on :${port}`));

// A worker that starts after others (a restart, a reload) catches up on the room from worker 0.
if (workerId !== 0) {
  request(0, 'room', undefined, { timeout: 1000 }).then(
    (earlier) => room.unshift(...earlier.filter((m) => !room.some((r) => r.id === m.id))),
    () => {}, // worker 0 not up (yet): start empty
  );
}

// An ordinary Fastify app in CommonJS, unmodified: `nsup start examples/fastify/server.cjs -i 2`.
const Fastify = require('fastify');

const app = Fastify({ logger: false });
const port = Number(process.env.PORT ?? 3000);

app.get('/', async () => ({ framework: 'fastify', pid: process.pid, worker: process.env.NSUP_WORKER_ID ?? null }));

app.listen({ port, host: '0.0.0.0' }).then(() => console.log(`fastify listening on :${port} (pid ${process.pid})`));

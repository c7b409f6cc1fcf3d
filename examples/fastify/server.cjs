// An ordinary Fastify app in CommonJS, unmodified: `nsup start examples/fastify/server.cjs -i 2`.
// Cleanup goes in onClose hooks; the SIGTERM listener runs them with fastify.close(), as
// Fastify's docs show. nsup runs it on every reload and stop, once in-flight requests are answered.
const Fastify = require('fastify');

const app = Fastify({ logger: false });
const port = Number(process.env.PORT ?? 3000);

app.get('/', async () => ({ framework: 'fastify', pid: process.pid, worker: process.env.NSUP_WORKER_ID ?? null }));

app.addHook('onClose', async () => {
  // Close database pools, flush queues, … here.
  console.log('fastify closed');
});

app.listen({ port, host: '0.0.0.0' }).then(() => console.log(`fastify listening on :${port} (pid ${process.pid})`));

process.on('SIGTERM', async () => {
  await app.close();
  process.exit(0);
});

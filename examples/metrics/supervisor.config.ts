// Run: npx nsup start -c examples/metrics/supervisor.config.ts
// Then: curl localhost:3000/ a few times, and curl localhost:9209/metrics | grep app_http
import { defineConfig } from 'nsup';

export default defineConfig({
  apps: [{ name: 'counted', script: './server.js', instances: 2, env: { PORT: process.env.PORT ?? '3000' } }],
  metrics: { port: Number(process.env.METRICS_PORT ?? 9209) },
});

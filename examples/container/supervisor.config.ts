// The container example: the plain HTTP server on every CPU the container may use, with the
// primary's metrics and health endpoints on 9209 for Kubernetes probes and Prometheus.
import { defineConfig } from 'nsup';

export default defineConfig({
  apps: [
    {
      name: 'web',
      script: '../basic-http/server.js',
      instances: 'max',
      env: { PORT: process.env.PORT ?? '3000' },
      // Keep killTimeout well below terminationGracePeriodSeconds (30 s by default).
      killTimeout: '20s',
    },
  ],
  // 0.0.0.0 so the kubelet can reach the probes; don't publish this port outside the pod.
  metrics: { port: 9209, host: '0.0.0.0' },
});

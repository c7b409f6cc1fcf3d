// The default config: `npx nsup start` (or `npm start`) runs the plain HTTP example on every usable CPU.
import { defineConfig } from 'nsup';

export default defineConfig({
  apps: [
    {
      name: 'web',
      script: './examples/basic-http/server.js',
      instances: 'max',
      env: { PORT: process.env.PORT ?? '3000' },
      killTimeout: '5s',
    },
  ],
});

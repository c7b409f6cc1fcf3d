// `nsup start -c examples/ipc-chat/supervisor.config.ts`: the chat example on two workers, port 3000.
import { defineConfig } from 'nsup';

export default defineConfig({
  apps: [
    {
      name: 'chat',
      script: './server.js',
      instances: 2,
      env: { PORT: process.env.PORT ?? '3000' },
    },
  ],
});

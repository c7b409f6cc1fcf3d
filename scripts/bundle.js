// Bundles tsc's output (dist/) into dist/bundle/, the files nsup actually runs, with rolldown.
// Why: the primary and every worker otherwise load ~100 and 13 ES modules one by one, and the
// CommonJS packages (pino, ms, yargs, prom-client) through Node's CommonJS loader besides. One
// module graph in a few files starts faster and keeps less in memory (docs/benchmarks.md,
// "Bundling"). tsc's dist/*.js stay: the .d.ts types and the source maps point at them.
//
// - The primary: the CLI (bin/nsup.js) and the `nsup` package entry (what a config file's
//   `import { defineConfig } from 'nsup'` and a programmatic user load), one build whose entries
//   share chunks, so that a config file's import is the same copy as the CLI's. Chunk names say
//   what is in them; the footprint test reads them (yargs has its own chunk).
// - The worker: the preload every worker gets (one CommonJS file) and the `nsup/worker` entry an
//   app imports (one small ES module, the hooks and the messaging API).
import { rmSync } from 'node:fs';
import { build } from 'rolldown';

const root = new URL('..', import.meta.url).pathname;
const outDir = `${root}dist/bundle`;

rmSync(outDir, { recursive: true, force: true });

const common = {
  cwd: root,
  platform: 'node',
  logLevel: 'warn',
  // Optional peers some packages probe for with a guarded require (pino's pino-pretty, and so on):
  // resolved at run time, if installed, like the unbundled code did. ink and React (`nsup monit`
  // only) stay packages too: loaded from node_modules by the one command that uses them.
  external: ['pino-pretty', 'ink', 'react', /^react\//, /^node:/],
};
const output = (chunkPrefix) => ({
  dir: outDir,
  format: 'esm',
  sourcemap: true,
  entryFileNames: '[name].js',
  chunkFileNames: `${chunkPrefix}-[name]-[hash].js`,
});

await build({
  ...common,
  input: { nsup: 'dist/cli/main.js', index: 'dist/index.js' },
  output: {
    ...output('primary'),
    codeSplitting: { groups: [{ name: 'yargs', test: /node_modules[\\/](yargs|yargs-parser|cliui|y18n|escalade|get-caller-file|string-width|strip-ansi|wrap-ansi)[\\/]/ }] },
  },
});
// The preload is CommonJS (--require; paths.ts says why), the API an ES module: two files, whose
// shared state lives on global symbols (src/worker/shared.ts).
await build({
  ...common,
  input: { 'worker-preload': 'dist/worker/runtime.js' },
  output: { ...output('worker'), format: 'cjs', entryFileNames: '[name].cjs', codeSplitting: false },
});
await build({
  ...common,
  input: { worker: 'dist/worker.js' },
  output: { ...output('worker'), codeSplitting: false },
});

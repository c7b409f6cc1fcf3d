#!/usr/bin/env node
// Shebang shim: everything lives in dist/cli/main.js (built by `npm install` via the prepare script).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(
    `nsup: needs Node.js >= 22.22 (this is ${process.version}). Install Node 24 LTS, or run nsup under it with: npx -p node@24 -c 'nsup ...'\n`,
  );
  process.exit(1);
}
// A supervising process (start, and deploy, which may become one) forwards every worker's output:
// under a flood V8 grows the young generation step by step to its maximum (+44 MB of RSS for
// 100 MiB of output, garbage collected late). Its start size is plenty for a supervisor. Set
// first thing: loading nsup's modules can already grow it once, and growth is never given back.
// Read at every growth, so it works at run time; workers (forked with their own flags) keep V8's default.
if (process.argv[2] === 'start' || process.argv[2] === 'deploy') (await import('node:v8')).setFlagsFromString('--semi-space-growth-factor=1');
const { main } = await import('../dist/cli/main.js');
main(process.argv.slice(2));

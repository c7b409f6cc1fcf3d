#!/usr/bin/env node
// Shebang shim: everything lives in dist/bundle/nsup.js (built by `npm install` via the prepare
// script: tsc, then scripts/bundle.js).
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
// Second, loading nsup's ~100 modules makes Node's path normalizer hot enough for TurboFan (at the
// default 3000 invocations), and one TurboFan compile maps about 5.5 MB of the compiler's own code
// from the node binary into the primary, for a function that is never hot again. Ten times the
// threshold keeps start-up out of TurboFan; a path that is hot under load (connection hand-off,
// log lines) still gets there within a second of load, through Maglev first. docs/benchmarks.md.
if (process.argv[2] === 'start' || process.argv[2] === 'deploy') {
  const v8 = await import('node:v8');
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--invocation-count-for-turbofan=30000');
}
const { main } = await import('../dist/bundle/nsup.js');
main(process.argv.slice(2));

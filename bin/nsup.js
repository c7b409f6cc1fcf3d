#!/usr/bin/env node
// Shebang shim: everything lives in dist/cli/main.js (built by `npm install` via the prepare script).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(
    `nsup: needs Node.js >= 22.22 (this is ${process.version}). Install Node 24 LTS, or run nsup under it with: npx -p node@24 -c 'nsup ...'\n`,
  );
  process.exit(1);
}
const { main } = await import('../dist/cli/main.js');
main(process.argv.slice(2));

// `npm start` and `npm test` on any machine: run the command under this Node when it is new
// enough for nsup (>= 22.22), else under Node 24 from npm (`npx -p node@24`, fetched once into
// npm's cache), so the README's first two commands work where the system Node is older.
// CommonJS and old syntax on purpose: this file must run on the old Node too.
'use strict';
const { spawn } = require('node:child_process');

const [major, minor] = process.versions.node.split('.').map(Number);
const recent = major > 22 || (major === 22 && minor >= 22);
const args = process.argv.slice(2);
const command = args.join(' ');
if (!command) {
  console.error('usage: node scripts/with-node.cjs <command ...>');
  process.exit(2);
}
if (!recent) {
  console.error(`nsup: Node ${process.version} is older than 22.22; running \`${command}\` under Node 24 from npm (npx -p node@24)`);
}
// Under a recent Node, `node` means this very Node (whatever else is on PATH).
const direct = args[0] === 'node' ? [JSON.stringify(process.execPath)].concat(args.slice(1)).join(' ') : command;
const child = recent
  ? spawn(direct, { shell: true, stdio: 'inherit' })
  : spawn('npx', ['-y', '-p', 'node@24', '-c', command], { stdio: 'inherit' });
// Ctrl-C reaches the whole process group; a signal sent to this process alone is passed on.
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
process.on('SIGINT', () => {});
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code === null ? 1 : code);
});

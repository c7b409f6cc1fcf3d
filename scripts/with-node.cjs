// `npm start` and `npm test` on any machine. The Node that runs npm (npm_node_execpath) is the
// one the user or CI chose: it runs the command when it is new enough for nsup (>= 22.22), so
// `.ci/run` really tests 22, 24 and 26. Otherwise the project's own Node runs it: the `node`
// devDependency that `npm install` put in node_modules/.bin (npm scripts find that one first
// anyway, so this file itself may run under either). With neither, Node 24 from npm
// (`npx -p node@24`). The chosen Node's folder goes first on the command's PATH, so a tool it
// starts by name (`tsc`, `vitest`: `#!/usr/bin/env node`) runs under that same Node.
// CommonJS and old syntax on purpose: this file must run on the old Node too.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readlinkSync, realpathSync, symlinkSync, unlinkSync } = require('node:fs');
const path = require('node:path');

const MIN = [22, 22];
const args = process.argv.slice(2);
const command = args.join(' ');
if (!command) {
  console.error('usage: node scripts/with-node.cjs <command ...>');
  process.exit(2);
}

/** Whether a version string ("22.22.0" or "v22.22.0") is >= 22.22. */
function recent(version) {
  const [major, minor] = String(version).replace(/^v/, '').split('.').map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
}

/** The version of a node binary, or null when it does not run. */
function versionOf(bin) {
  if (bin === process.execPath) return process.versions.node;
  const result = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 10000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** The node binaries to try, in order, with why each is a candidate (for the message). */
function candidates() {
  const list = [];
  // npm sets npm_node_execpath to the Node running npm; outside npm, this Node is the chooser.
  const chooser = process.env.npm_node_execpath || process.execPath;
  list.push({ bin: chooser, why: 'the Node that runs npm' });
  const own = path.join(__dirname, '..', 'node_modules', '.bin', 'node');
  if (existsSync(own)) list.push({ bin: realpathSync(own), why: "the project's own Node (node_modules/.bin/node)" });
  return list;
}

/** The first candidate >= 22.22, or null; `tried` collects the ones that were too old. */
function choose(tried) {
  for (const candidate of candidates()) {
    const version = versionOf(candidate.bin);
    if (version !== null && recent(version)) return Object.assign({ version }, candidate);
    tried.push(`${candidate.bin} (${version === null ? 'does not run' : `v${version}`})`);
  }
  return null;
}

/**
 * A folder holding only `node` (a link to `bin`), to put first on PATH: the binary's own folder
 * may be /usr/bin or /opt/homebrew/bin, whose global `tsc` would then shadow the project's.
 */
function nodeDir(bin) {
  const dir = path.join(__dirname, '..', 'node_modules', '.cache', 'with-node', bin.replace(/[^A-Za-z0-9.]+/g, '_'));
  const link = path.join(dir, 'node');
  try {
    mkdirSync(dir, { recursive: true });
    let current = null;
    try {
      current = readlinkSync(link);
    } catch (error) {}
    if (current !== bin) {
      if (current !== null) unlinkSync(link);
      symlinkSync(bin, link);
    }
    return dir;
  } catch (error) {
    return path.dirname(bin);
  }
}

const tried = [];
const chosen = choose(tried);
let child;
if (chosen) {
  if (tried.length > 0) console.error(`nsup: ${tried.join(', ')} is older than 22.22; running \`${command}\` under ${chosen.why}, v${chosen.version}`);
  const env = Object.assign({}, process.env, { PATH: nodeDir(chosen.bin) + path.delimiter + process.env.PATH });
  // `node …` runs the chosen Node itself, without a shell between (signals reach it, the
  // arguments stay as npm passed them); anything else is a shell command (`tsc && vitest`).
  child = args[0] === 'node'
    ? spawn(chosen.bin, args.slice(1), { stdio: 'inherit', env })
    : spawn(command, { shell: true, stdio: 'inherit', env });
} else {
  console.error(`nsup: ${tried.join(', ')} is older than 22.22 and node_modules/.bin/node is missing (run npm install); running \`${command}\` under Node 24 from npm (npx -p node@24)`);
  child = spawn('npx', ['-y', '-p', 'node@24', '-c', command], { stdio: 'inherit' });
}
// Ctrl-C reaches the whole process group; a signal sent to this process alone is passed on.
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
process.on('SIGINT', () => {});
// `kill <npm's pid>`: npm signals only its shell, which dies and leaves this process; once the
// parent is gone, stop the command as if the signal had come here.
const parent = process.ppid;
const orphaned = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(orphaned);
  child.kill('SIGTERM');
}, 500);
orphaned.unref();
child.on('error', (error) => {
  console.error(`nsup: could not run ${chosen ? command : 'npx'}: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code === null ? 1 : code);
});

// System tools some tests drive: Debian's chromium (the dashboard's browser test) and tmux (nsup
// monit's terminal test). `.ci/run` installs both and sets NSUP_TEST_REQUIRE_TOOLS=1, so there a
// missing tool fails the run; elsewhere (`npm test` on a fresh machine) those tests are skipped
// with a line saying what to install.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Whether `command` (a path, or a name on PATH) runs here; throws under NSUP_TEST_REQUIRE_TOOLS=1 when it does not. */
export function haveTool(command: string, install: string): boolean {
  const found = command.includes('/') ? existsSync(command) : onPath(command);
  if (found) return true;
  const message = `${command} is not installed: its tests are skipped (install it with: ${install})`;
  if (process.env.NSUP_TEST_REQUIRE_TOOLS === '1') throw new Error(`${message}; NSUP_TEST_REQUIRE_TOOLS=1 requires it`);
  console.warn(`nsup tests: ${message}`);
  return false;
}

function onPath(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

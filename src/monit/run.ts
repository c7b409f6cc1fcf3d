// The body of `nsup monit [app]`: refuse without a terminal (naming what to use instead), else
// draw the screen in the alternate buffer until q or Ctrl-C. Imported lazily: ink and React load
// only here.
import { runtimeDir } from '../control/runtime-dir.ts';
import { EXIT, UsageError } from '../errors.ts';
import { shouldColor } from '../cli/format-status.ts';

/** `nsup monit [app]` */
export async function runMonit(args: { name?: string | undefined }): Promise<number> {
  const { stdout, stdin, env } = process;
  if (stdout.isTTY !== true || env.TERM === 'dumb') {
    const why = stdout.isTTY !== true ? 'stdout is not a terminal' : 'TERM=dumb cannot move the cursor';
    throw new UsageError(`nsup monit draws a full-screen view and needs a terminal (${why}). Use nsup status${args.name ? ` ${args.name}` : ''} (--json for scripts) for the figures, or nsup logs ${args.name ?? '<app>'} -f for the output.`);
  }
  // React's development build (the default without NODE_ENV) checks every render: several times
  // the CPU of the production build, for warnings meant for the authors of the components.
  env.NODE_ENV ??= 'production';
  // ink paints through chalk, which reads the environment once, at import: with CI set (a shell
  // on a build machine, a tmux in a CI job) it turns colors off even on a terminal. nsup has
  // decided already (a terminal, no NO_COLOR, not TERM=dumb); FORCE_COLOR=true says so to chalk
  // and still lets it detect how many colors the terminal has. A FORCE_COLOR of the user's wins.
  const color = shouldColor(stdout, env);
  if (color) env.FORCE_COLOR ??= 'true';
  const [{ render }, React, { MonitView }, { Monitor }] = await Promise.all([import('ink'), import('react'), import('./view.ts'), import('./monitor.ts')]);
  const dir = runtimeDir();
  const monitor = new Monitor(dir);
  const element = React.createElement(MonitView, {
    monitor,
    filter: args.name,
    dir,
    color,
    keys: stdin.isTTY === true,
    unicode: /utf-?8/i.test(env.LC_ALL || env.LC_CTYPE || env.LANG || ''),
  });
  const instance = render(element, {
    // The screen is ours for as long as monit runs, and the shell's comes back at the end (like top).
    alternateScreen: true,
    // ink takes CI variables to mean "no terminal"; stdout was checked above.
    interactive: true,
    // q and Ctrl-C go through the same exit (the view maps both), so teardown runs once.
    exitOnCtrlC: false,
    patchConsole: false,
    // One frame a second, plus keys and output: a low cap is plenty.
    maxFps: 10,
    // Rewrite only the lines that changed: less to send over ssh each second.
    incrementalRendering: true,
  });
  // Without raw mode (stdin not a terminal) Ctrl-C is a SIGINT; `kill` sends SIGTERM: both quit
  // through the same teardown, so the shell's screen comes back.
  const quit = () => instance.unmount();
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    monitor.close();
    instance.cleanup();
  }
  // ink leaves stdin referenced after raw mode: let the process end.
  stdin.unref?.();
  return EXIT.ok;
}

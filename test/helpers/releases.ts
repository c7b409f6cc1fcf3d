// A project deployed in release directories, the Capistrano layout: releases/N each hold one
// version of the app (release-info.js and its BUILD), `current` is a symlink to one of them, and
// the config at the top runs the app with cwd './current'. flip() is `ln -sfn releases/N current`.
import { mkdirSync, realpathSync, renameSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, tmpProject, type TmpProject } from './tmp-project.ts';

/** The project, its config, and how to add and switch releases. */
export interface ReleaseProject {
  project: TmpProject;
  config: string;
  /** Add releases/N (BUILD = N); `broken`: its script throws at startup. Returns its real path. */
  release(n: number, opts?: { broken?: boolean }): string;
  /** Point `current` at releases/N atomically (a new link renamed over the old one, as `ln -sfn` + `mv -T`). */
  flip(n: number): void;
}

/** A project with releases/1 as current and a config running it on `port` with `instances` workers. */
export function releaseProject(port: number, opts: { instances?: number; extra?: string } = {}): ReleaseProject {
  const project = tmpProject();
  const source = readFileSync(join(FIXTURES, 'release-info.js'), 'utf8');
  const release = (n: number, o: { broken?: boolean } = {}) => {
    const dir = project.path(`releases/${n}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'BUILD'), `${n}\n`);
    writeFileSync(join(dir, 'release-info.js'), o.broken ? `throw new Error('release ${n}: missing DATABASE_URL');\n${source}` : source);
    return realpathSync(dir);
  };
  const flip = (n: number) => {
    const next = project.path(`current.${n}.tmp`);
    symlinkSync(`releases/${n}`, next);
    renameSync(next, project.path('current'));
  };
  release(1);
  flip(1);
  const config = project.write(
    'supervisor.config.mjs',
    `export default { apps: [{ name: 'web', cwd: './current', script: './release-info.js', instances: ${opts.instances ?? 2}, env: { PORT: '${port}' }, killTimeout: '8s'${opts.extra ?? ''} }] };\n`,
  );
  return { project, config, release, flip };
}

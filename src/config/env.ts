// An app's environment, built from its layers (lowest first): the supervisor's own environment
// (inherited through cluster.fork), env files in order, `env`, the named set chosen with
// `--env <name>`, then `--env KEY=VALUE`. Values may be secrets: no message made here contains one,
// only variable names, set names and file paths.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { UsageError } from '../errors.ts';

/** The command line's `--env` words: the named set every app runs with, and the variables above every set. */
export interface EnvChoice {
  /** The set's name (`--env production`), or null for none. */
  name: string | null;
  /** `--env KEY=VALUE` pairs, the highest layer. */
  vars: Record<string, string>;
}

/** One app's layers, as validated by the schema (file paths absolute). */
export interface EnvLayers {
  files: Array<{ path: string; at: string }>;
  env: Record<string, string>;
  sets: Record<string, Record<string, string>>;
  choice: EnvChoice;
}

/** Throws the schema's config error at a key path (so messages keep one shape). */
export type Fail = (at: string, detail: string) => never;

/** A name environment variables may have: what a shell can export. */
export const VAR_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `--env production --env PORT=3000`: a word with '=' is a variable, one without names a set; more than one name is a usage error. */
export function envChoice(words: string[]): EnvChoice {
  const vars: Record<string, string> = {};
  const names: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq === 0) throw new UsageError("--env expects KEY=VALUE or the name of an env set; one word starts with '=' (no variable name). Example: --env PORT=3000");
    if (eq > 0) vars[word.slice(0, eq)] = word.slice(eq + 1);
    else if (word !== '' && !names.includes(word)) names.push(word);
  }
  if (names.length > 1) {
    throw new UsageError(
      `--env chooses one env set for the run, got ${names.map((n) => `'${n}'`).join(', ')}. Keep one; variables are KEY=VALUE, and the script goes before the flags (nsup start app.js --env production).`,
    );
  }
  return { name: names[0] ?? null, vars };
}

/** The app's env (without the inherited process environment, which cluster.fork adds below it) and the set it used. */
export function buildEnv(layers: EnvLayers, fail: Fail): { env: Record<string, string>; set: string | null } {
  const fromFiles = layers.files.map(({ path, at }) => readEnvFile(path, at, fail));
  const set = layers.choice.name !== null && Object.hasOwn(layers.sets, layers.choice.name) ? layers.choice.name : null;
  const env = Object.assign({}, ...fromFiles, layers.env, set === null ? {} : layers.sets[set], layers.choice.vars) as Record<string, string>;
  return { env, set };
}

/** The base value of `incrementVar`: the variable's value in the app's env or else the supervisor's, as an integer. */
export function incrementBase(name: string, env: Record<string, string>, inherited: NodeJS.ProcessEnv, at: string, fail: Fail): number {
  const value = env[name] ?? inherited[name];
  if (value === undefined) {
    return fail(at, `incrementVar '${name}' adds each worker's slot to ${name}, but no layer sets ${name}. Give it a base value, e.g. env: { ${name}: 3000 } (worker 0 gets 3000, worker 1 3001, …).`);
  }
  if (!/^\s*-?\d+\s*$/.test(value)) {
    return fail(at, `incrementVar '${name}' needs an integer in ${name}, and its value is not one (values are not shown: they may be secrets). Set ${name} to a number such as 3000.`);
  }
  return Number.parseInt(value, 10);
}

/** The variables a file sets, by Node's own .env parser (util.parseEnv: the syntax of node --env-file). */
function readEnvFile(path: string, at: string, fail: Fail): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail(at, `env file not found: ${path}. Create it, or fix the path (relative to the app's cwd in a config file, to the current directory on the command line).`);
    return fail(at, `cannot read env file ${path} (${code ?? String(error)}). Check that it is a readable file.`);
  }
  return parseEnv(text) as Record<string, string>;
}

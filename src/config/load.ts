// Finds and imports supervisor.config.ts (or any .ts/.mts/.js/.mjs config), then validates it.
// Node >= 22.18 strips TypeScript types natively, so no loader (jiti, tsx) is needed.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ConfigLoadError, NsupError } from '../errors.ts';
import type { ResolvedConfig } from './define.ts';
import { resolveConfig, type ResolveContext } from './schema.ts';

/** The config file nsup looks for when `nsup start` gets no script and no --config. */
export const DEFAULT_CONFIG = 'supervisor.config.ts';

let importCounter = 0;

/** Import a config file's default export; a fresh import every call (reloads see edits). */
export async function importConfig(file: string): Promise<unknown> {
  const path = resolve(file);
  if (!existsSync(path)) {
    throw new ConfigLoadError(
      `Config file not found: ${path}. Create it (see README "Config reference"), pass --config <file>, or give a script: nsup start app.js`,
    );
  }
  const url = pathToFileURL(path);
  // A query string busts the ESM cache, so an edited file is read again on reload.
  url.search = `nsup=${++importCounter}`;
  let module: { default?: unknown };
  try {
    module = (await import(url.href)) as { default?: unknown };
  } catch (error) {
    throw new ConfigLoadError(`Cannot load config file ${path}: ${describeImportError(error, path)}`, { cause: error });
  }
  if (module.default === undefined) {
    throw new ConfigLoadError(
      `Config file ${path} has no default export. Write: export default defineConfig({ apps: [{ script: './server.js' }] })`,
    );
  }
  return module.default;
}

/** Load and validate a config file, applying `override` to the raw value first (CLI flags win). */
export async function loadConfigFile(
  file: string,
  override: (raw: unknown) => unknown = (raw) => raw,
  extra: Pick<ResolveContext, 'cpuProbe'> = {},
): Promise<ResolvedConfig> {
  const path = resolve(file);
  const raw = await importConfig(path);
  return resolveConfig(override(raw), { file: path, baseDir: dirname(path), ...extra });
}

function describeImportError(error: unknown, path: string): string {
  if (error instanceof NsupError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  if (error instanceof SyntaxError) {
    const where = syntaxErrorLocation(error, path);
    return `syntax error${where ? ` at ${where}` : ''}: ${error.message.replace(/^\[\w+\]: /, '')}. Fix the file and try again.`;
  }
  if (code === 'ERR_MODULE_NOT_FOUND') return `${error.message}. Check the import paths (is nsup installed?).`;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' || code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX') {
    return `${error.message}. Node ${process.version} strips TypeScript types only (no enums or namespaces); use Node >= 22.18, or write the config as .js/.mjs.`;
  }
  return `${error.name}: ${error.message}`;
}

// "file:line" of a syntax error: from the stack (TypeScript stripping puts it there), else
// from `node --check`, which prints it for plain JavaScript.
function syntaxErrorLocation(error: SyntaxError, path: string): string | null {
  const fromStack = /^(\S+:\d+)\n/.exec(error.stack ?? '');
  if (fromStack?.[1]) return fromStack[1];
  if (/\.[mc]?ts$/.test(path)) return null;
  const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 5000 });
  const line = /^(\S+:\d+)$/m.exec(check.stderr ?? '');
  return line?.[1] ?? null;
}

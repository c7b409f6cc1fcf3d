// The dashboard's static files, all served by nsup itself (no CDN): the page, its script and
// style from src/dashboard/assets/ (shipped with the package), and uPlot from the uplot package.
// Each is read once, at its first request, and kept (about 70 KB in all).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../paths.ts';

const { readFileSync } = process.getBuiltinModule('node:fs');

/** A file the dashboard serves. */
export interface Asset {
  type: string;
  body: Buffer;
}

const OWN = new URL('src/dashboard/assets/', PACKAGE_ROOT);
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

// URL path → where the file is. uplot is resolved from nsup's package.json: wherever npm put it
// (nsup's own node_modules, or hoisted into the project's).
const FILES: Record<string, { type: string; path: () => string }> = {
  '/': { type: 'text/html; charset=utf-8', path: () => fileURLToPath(new URL('index.html', OWN)) },
  '/assets/dashboard.js': { type: JS, path: () => fileURLToPath(new URL('dashboard.js', OWN)) },
  '/assets/dashboard.css': { type: CSS, path: () => fileURLToPath(new URL('dashboard.css', OWN)) },
  '/assets/uPlot.min.js': { type: JS, path: () => uplot('dist/uPlot.iife.min.js') },
  '/assets/uPlot.min.css': { type: CSS, path: () => uplot('dist/uPlot.min.css') },
};

const cache = new Map<string, Asset>();

/** The asset at this URL path, or null when there is none (a missing file throws: the install is broken). */
export function asset(path: string): Asset | null {
  const file = FILES[path === '/index.html' ? '/' : path];
  if (!file) return null;
  let found = cache.get(path);
  if (!found) {
    found = { type: file.type, body: readFileSync(file.path()) };
    cache.set(path, found);
  }
  return found;
}

function uplot(file: string): string {
  return createRequire(new URL('package.json', PACKAGE_ROOT)).resolve(`uplot/${file}`);
}

// Where this installation's files are, for the code that names one of them: the worker preload,
// bin/nsup.js, package.json. This module runs from three places: src/paths.ts (tests), tsc's
// dist/paths.js and the bundle in dist/bundle/ (scripts/bundle.js), so the package root is found
// from whichever of those it is.
import { fileURLToPath } from 'node:url';

const inBundle = /\/dist\/bundle\/[^/]+$/.test(import.meta.url);

/** The package's root directory (the one holding package.json, bin/ and dist/), as a URL ending in '/'. */
export const PACKAGE_ROOT: URL = new URL(inBundle ? '../../' : '../', import.meta.url);

/**
 * The preload every worker gets (--require) before the user's script: the worker runtime as one
 * CommonJS file. CommonJS, not an ES module through --import: a CommonJS app then never starts
 * Node's ES loader for nsup's sake (1.4 MB per worker), and an ES app saves 0.4 MB (docs/benchmarks.md).
 */
export const WORKER_PRELOAD: string = fileURLToPath(new URL('dist/bundle/worker-preload.cjs', PACKAGE_ROOT));

/** Absolute path of this installation's bin/nsup.js. */
export const NSUP_BIN: string = fileURLToPath(new URL('bin/nsup.js', PACKAGE_ROOT));

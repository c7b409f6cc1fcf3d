// nsup's own version, from its package.json.
import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from './paths.ts';

/** The installed nsup's version, e.g. '0.1.0'. */
export const NSUP_VERSION: string = (JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { version: string }).version;

// nsup's own version, from its package.json (src/ and dist/ both sit next to it).
import { readFileSync } from 'node:fs';

/** The installed nsup's version, e.g. '0.1.0'. */
export const NSUP_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

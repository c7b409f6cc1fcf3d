#!/usr/bin/env node
// Shebang shim: everything lives in dist/cli/main.js (built by `npm install` via the prepare script).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2));

// `nsup start`'s command line without yargs. The foreground `start` process is the primary, and
// it supervises for months: yargs would stay loaded in it for nothing (about 55 ms of start-up
// and 7 MB of the primary's RSS, measured in docs/benchmarks.md). So the common forms are parsed
// here with node:util's tokenizer, from the same option table yargs gets (commands/start.ts,
// which comes from config/schema.ts), giving exactly the arguments yargs would give. Anything
// this parser is not sure of (--help, a typo, a camelCase flag, a boolean followed by
// true/false, a short-option group, a repeated single-value flag) returns null, and yargs parses
// it as before, with its own messages. test/unit/quick-start.test.ts checks both parsers agree.
import { parseArgs } from 'node:util';
import { camel } from '../config/flags.ts';
import { startOptions, type StartCommandArgs } from './commands/start.ts';

interface Option {
  long: string;
  alias?: string;
  type: 'string' | 'boolean' | 'number';
  array: boolean;
  /** nargs 1: the next word is the value even when it starts with '-' (yargs' nargs-eats-options). */
  eatsOptions: boolean;
}

const OPTIONS: Map<string, Option> = new Map(
  Object.entries(startOptions).map(([long, o]) => [
    long,
    { long, ...('alias' in o && o.alias ? { alias: o.alias } : {}), type: o.type, array: 'array' in o && o.array === true, eatsOptions: 'nargs' in o && o.nargs === 1 },
  ]),
);
const TOKENIZER = Object.fromEntries(
  [...OPTIONS.values()].map((o) => [o.long, { type: o.type === 'boolean' ? ('boolean' as const) : ('string' as const), ...(o.alias ? { short: o.alias } : {}), multiple: true }]),
);

/** `start`'s arguments (argv after the word `start`) as yargs would give them, or null to let yargs parse them. */
export function quickStartArgs(argv: string[]): StartCommandArgs | null {
  let tokens;
  try {
    ({ tokens } = parseArgs({ args: argv, options: TOKENIZER, strict: false, allowPositionals: true, tokens: true }));
  } catch {
    return null;
  }
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const indexes = new Set<number>();
  // yargs' arrays are greedy: `--env A=1 app.js` gives env ['A=1', 'app.js'].
  let greedy: unknown[] | null = null;
  let afterTerminator = false;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      afterTerminator = true;
      out['--'] = [];
      continue;
    }
    if (token.kind === 'positional') {
      if (afterTerminator) (out['--'] as string[]).push(token.value);
      else if (token.value === 'true' || token.value === 'false') return null; // `--daemon false`: yargs takes it as the value
      else if (greedy) greedy.push(token.value);
      else if (out.script === undefined) out.script = token.value;
      else return null; // a second positional: yargs' error
      continue;
    }
    // Two tokens from one word: a short-option group (-dw); yargs' grouping rules are its own.
    if (indexes.has(token.index)) return null;
    indexes.add(token.index);
    const negated = !OPTIONS.has(token.name) && token.name.startsWith('no-') ? OPTIONS.get(token.name.slice(3)) : undefined;
    const option = OPTIONS.get(token.name) ?? negated;
    if (!option || (negated && negated.type !== 'boolean')) return null;
    const key = camel(option.long);
    greedy = null;
    if (!option.array && seen.has(key)) return null; // yargs makes an array of a repeated flag
    seen.add(key);
    if (option.type === 'boolean') {
      if (token.value !== undefined) return null;
      out[key] = !negated;
      continue;
    }
    let value: unknown = token.value;
    // `-i=2`: yargs takes what follows the '=' (parseArgs keeps it in the value).
    if (token.inlineValue && token.rawName.length === 2 && typeof value === 'string' && value.startsWith('=')) value = value.slice(1);
    // Without nargs 1, yargs never takes an option-like word as a value: parseArgs (not strict) does.
    if (typeof value === 'string' && !token.inlineValue && value.startsWith('-') && !option.eatsOptions) return null;
    if (value === undefined && !option.array) return null;
    if (option.type === 'number' && value !== undefined) {
      if (!/^-?\d+(\.\d+)?$/.test(value as string)) return null;
      value = Number(value);
    }
    if (option.array) {
      const list = (out[key] ??= []) as unknown[];
      if (value !== undefined) list.push(value);
      greedy = list;
    } else out[key] = value;
  }
  return out as StartCommandArgs;
}

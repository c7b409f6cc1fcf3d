// Checks at the sender that a message's data can cross the IPC channel: encodable with the
// app's serialization and within the size limit. Without it the error would surface in the
// primary, or never (JSON silently turns a Map into {} and drops functions).
import { IPC_ERROR, ipcError, type Serialization } from './protocol.ts';

/** Largest `data` of one message: 1 MiB of JSON text ('json') or of V8 serialization ('advanced'). */
export const MAX_DATA_BYTES = 1024 * 1024;

/** Throw a TypeError (unsendable) or RangeError (too large) naming `what` and the fix, unless `data` can be sent. */
export function checkPayload(data: unknown, what: string, mode: Serialization): void {
  // Most messages are small plain objects: a bounded walk proves them fine without encoding them.
  if (quickSize(data, mode, { nodes: QUICK_NODES }) >= 0) return;
  const size = mode === 'json' ? jsonSize(data, what) : v8Size(data, what);
  if (size <= MAX_DATA_BYTES) return;
  const unit = mode === 'json' ? 'of JSON' : 'serialized';
  throw ipcError(
    IPC_ERROR.tooLarge,
    `${what}: the data is ${formatSize(size)} ${unit}, over the ${formatSize(MAX_DATA_BYTES)} limit of one message. ` +
      'Send a reference instead (a file path, a key in a shared store) or split it into smaller messages.',
    { kind: 'RangeError' },
  );
}

// ---------------------------------------------------------------------------------------------
// Helpers

const ADVANCED_HINT = "or set serialization: 'advanced' in the app's config";
/** Values the quick walk looks at before it leaves the decision to a real encoding. */
const QUICK_NODES = 64;

/**
 * An upper bound of the encoded size of a small value made only of what both encodings carry
 * as is (plain objects, arrays, strings, numbers, booleans, null; Date; in 'advanced' also Map,
 * Set, BigInt and byte arrays), or -1: too big to walk, or something the exact check must judge.
 */
function quickSize(value: unknown, mode: Serialization, budget: { nodes: number }): number {
  if (--budget.nodes < 0) return -1;
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
    case 'number':
      return 24;
    case 'string':
      // Worst case: every character escaped as \uXXXX.
      return value.length > 4096 ? -1 : value.length * 6 + 2;
    case 'bigint':
      return mode === 'advanced' && value < 2n ** 64n && value > -(2n ** 64n) ? 24 : -1;
    case 'object':
      break;
    default:
      return -1;
  }
  if (value === null) return 4;
  let size = 2;
  const add = (n: number) => (n < 0 || (size += n) > MAX_DATA_BYTES ? false : true);
  if (Array.isArray(value)) {
    for (const item of value) if (!add(quickSize(item, mode, budget)) || !add(1)) return -1;
    return size;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key in value) {
      if (!add(key.length * 6 + 4) || !add(quickSize((value as Record<string, unknown>)[key], mode, budget))) return -1;
    }
    return size;
  }
  if (value instanceof Date) return 32;
  if (mode === 'json') return -1;
  if (ArrayBuffer.isView(value)) return value.byteLength > 65536 ? -1 : value.byteLength + 16;
  if (value instanceof Map) {
    for (const [k, v] of value) if (!add(quickSize(k, mode, budget)) || !add(quickSize(v, mode, budget))) return -1;
    return size;
  }
  if (value instanceof Set) {
    for (const item of value) if (!add(quickSize(item, mode, budget))) return -1;
    return size;
  }
  return -1;
}

/** Exact JSON length, refusing what JSON would fail on or silently change. */
function jsonSize(data: unknown, what: string): number {
  switch (typeof data) {
    case 'undefined':
    case 'boolean':
    case 'number':
      return 8;
    case 'string':
      return data.length + 2;
    case 'object':
      break;
    default:
      return unsendable(what, describe('the data', data));
  }
  try {
    return JSON.stringify(data, strictJson)?.length ?? 0;
  } catch (error) {
    if (error instanceof Refused) return unsendable(what, error.message);
    const message = error instanceof Error ? error.message : String(error);
    const circle = /property '([^']*)' closes the circle/.exec(message);
    if (circle) return unsendable(what, `the data has a circular reference (property '${circle[1]}' closes the circle), which JSON cannot encode. Remove the cycle ${ADVANCED_HINT}.`);
    return unsendable(what, `the data cannot be encoded as JSON: ${oneLine(message)}`);
  }
}

/** JSON.stringify replacer: throws on values JSON would drop, fail on, or turn into {}. */
function strictJson(key: string, value: unknown): unknown {
  const type = typeof value;
  if (type === 'function' || type === 'symbol' || type === 'bigint' || value instanceof Map || value instanceof Set) {
    throw new Refused(describe(key === '' ? 'the data' : `property '${key}'`, value));
  }
  return value;
}

/** Size of the V8 serialization ('advanced'), refusing functions and symbols. */
function v8Size(data: unknown, what: string): number {
  switch (typeof data) {
    case 'undefined':
    case 'boolean':
    case 'number':
    case 'bigint':
      return 16;
    case 'string':
      return data.length + 8;
    case 'object':
      break;
    default:
      return unsendable(what, describe('the data', data));
  }
  try {
    // node:v8 only here, when it is needed: every worker loads this module, and node:v8 is ten
    // builtin modules and about 0.6 MB.
    return process.getBuiltinModule('node:v8').serialize(data).byteLength;
  } catch (error) {
    // V8's DataCloneError names the value: "f() {} could not be cloned."
    const message = error instanceof Error ? oneLine(error.message) : String(error);
    return unsendable(what, `${message} Functions, symbols and objects holding native resources cannot be sent between processes; send plain data.`);
  }
}

/** What is wrong with one value, and the fix. */
function describe(where: string, value: unknown): string {
  if (typeof value === 'function' || typeof value === 'symbol') {
    return `${where} is a ${typeof value}, which cannot be sent between processes. Send plain data.`;
  }
  if (typeof value === 'bigint') return `${where} is a BigInt, which JSON cannot encode. Convert it (String(n)) ${ADVANCED_HINT}.`;
  const kind = value instanceof Map ? 'Map' : 'Set';
  const fix = kind === 'Map' ? 'Object.fromEntries(map)' : '[...set]';
  return `${where} is a ${kind}, which JSON turns into {}. Convert it (${fix}) ${ADVANCED_HINT}.`;
}

function unsendable(what: string, detail: string): never {
  throw ipcError(IPC_ERROR.unsendable, `${what}: ${detail}`, { kind: 'TypeError' });
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

/** A value the strict replacer refuses (its message is the user-facing detail). */
class Refused extends Error {}

/**
 * Reads a large result line without parsing what routing never looks at (issue 17). An embeddings answer is ~20–30 KB
 * of numbers per line; `JSON.parse` of the vectors and `JSON.stringify` of them again for the settle script cost more
 * than everything else routing does. Routing needs the `custom_id`, the status, an error, the usage and (for chat and
 * Responses) the answer text, all of them small.
 *
 * `parseLazy` scans the line's bytes as they came off the wire (strings and brackets, found by native `indexOf`, so a
 * 30 KB array of numbers is skipped in a few native scans; the structural characters are ASCII and never part of a
 * multi-byte UTF-8 sequence, so byte offsets are safe) and builds the same value `JSON.parse` would, except that a
 * member whose text is longer than `LAZY_MEMBER_CHARS` is parsed only when read (a getter that parses once and
 * replaces itself). A large object is built member by member the same way, so `line.response.body.usage` is parsed
 * and `line.response.body.data` is not. It also returns where each object sits in the bytes, so the caller can store
 * the provider's body as it came — a Buffer, never decoded to a string and encoded again — instead of serialising it.
 *
 * What a skipped member holds is not validated until read: the scan checks that strings end and brackets balance
 * (a line cut short fails here as with `JSON.parse`), not that each number is well formed. Small lines and small
 * members go through `JSON.parse` whole.
 */

/** Members longer than this are parsed only when read. */
export const LAZY_MEMBER_CHARS = 8 * 1024;

/** Where one value sits in the bytes: `[start, end)`. */
export interface Span {
  start: number;
  end: number;
}

export class LazyJsonError extends Error {}

const text = (s: Buffer, start: number, end: number) => s.toString('utf8', start, end);

function skipWs(s: Buffer, i: number): number {
  for (;;) {
    const c = s[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** Index just past the string that starts at `i` (a `"`). */
function endOfString(s: Buffer, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = s.indexOf(0x22, from);
    if (q < 0) throw new LazyJsonError('unterminated string');
    let backslashes = 0;
    for (let b = q - 1; s[b] === 0x5c; b--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

const STRUCTURE = [0x22, 0x7b, 0x7d, 0x5b, 0x5d] as const;

/** Containers whose end the one scan of a line records, by how deep they open (the root is 1). */
const RECORD_DEPTH = 4;

/** Where containers end, by where they start: filled by the first scan, so that no container is scanned twice. */
type Ends = Map<number, number>;

/**
 * Index just past the object or array that starts at `i`. The next position of each of the five structural characters
 * is kept and searched again (native `indexOf`) only once passed, so a long run of numbers costs five native scans.
 * `ends` receives the end of every container opening at most `RECORD_DEPTH` deep.
 */
function endOfContainer(s: Buffer, i: number, ends?: Ends): number {
  const next = STRUCTURE.map((ch) => s.indexOf(ch, i));
  const stack: number[] = [];
  const opens: number[] = [];
  let from = i;
  for (;;) {
    let which = -1;
    let k = Number.POSITIVE_INFINITY;
    for (let n = 0; n < 5; n++) {
      let at = next[n]!;
      if (at >= 0 && at < from) {
        at = s.indexOf(STRUCTURE[n]!, from);
        next[n] = at;
      }
      if (at >= 0 && at < k) {
        k = at;
        which = n;
      }
    }
    if (which < 0) throw new LazyJsonError('unbalanced brackets');
    if (which === 0) {
      from = endOfString(s, k);
      continue;
    }
    if (which === 1 || which === 3) {
      stack.push(which);
      opens.push(k);
    } else if (stack.pop() !== which - 1) {
      throw new LazyJsonError('unbalanced brackets');
    } else {
      const open = opens.pop() as number;
      if (ends && stack.length < RECORD_DEPTH) ends.set(open, k + 1);
      if (stack.length === 0) return k + 1;
    }
    from = k + 1;
  }
}

/** Index just past the value that starts at `i` (a container's from `ends` when the first scan recorded it). */
function endOfValue(s: Buffer, i: number, ends?: Ends): number {
  const c = s[i];
  if (c === 0x22) return endOfString(s, i);
  if (c === 0x7b || c === 0x5b) return ends?.get(i) ?? endOfContainer(s, i, ends);
  // A number or a literal: up to the next delimiter; JSON.parse checks it (it is always small).
  let j = i;
  for (;;) {
    const ch = s[j];
    if (
      ch === undefined ||
      ch === 0x2c ||
      ch === 0x7d ||
      ch === 0x5d ||
      ch === 0x20 ||
      ch === 0x0a ||
      ch === 0x0d ||
      ch === 0x09
    ) {
      break;
    }
    j++;
  }
  if (j === i) throw new LazyJsonError(`unexpected character at ${i}`);
  return j;
}

/** Spans of objects in the bytes, by the object they were built for (the root line, its `response`, its body, …). */
export interface SpanMap {
  get(object: object): Span | undefined;
  set(object: object, span: Span): unknown;
}

/**
 * Parses `bytes` (one JSON value, UTF-8) like `JSON.parse` of their text, with large members parsed on first read (see
 * the module comment). `spans` receives, for every object built member by member, where its bytes are.
 */
export function parseLazy(bytes: Buffer, spans?: SpanMap): unknown {
  const start = skipWs(bytes, 0);
  if (start >= bytes.length) throw new LazyJsonError('no value');
  // One scan of the whole value, which checks it and records where its outer containers end: the walk below reads
  // those ends instead of scanning each member again (an embeddings vector was scanned once per level around it).
  const ends: Ends = new Map();
  const end = endOfValue(bytes, start, ends);
  if (skipWs(bytes, end) !== bytes.length) throw new LazyJsonError('trailing characters');
  return valueAt(bytes, start, end, spans, ends);
}

function valueAt(s: Buffer, start: number, end: number, spans: SpanMap | undefined, ends: Ends): unknown {
  if (end - start <= LAZY_MEMBER_CHARS || s[start] !== 0x7b) return JSON.parse(text(s, start, end));
  const out: Record<string, unknown> = {};
  spans?.set(out, { start, end });
  let i = skipWs(s, start + 1);
  if (s[i] === 0x7d) return out;
  for (;;) {
    if (s[i] !== 0x22) throw new LazyJsonError(`expected a key at ${i}`);
    const keyEnd = endOfString(s, i);
    const key = JSON.parse(text(s, i, keyEnd)) as string;
    i = skipWs(s, keyEnd);
    if (s[i] !== 0x3a) throw new LazyJsonError(`expected ':' at ${i}`);
    const vStart = skipWs(s, i + 1);
    const vEnd = endOfValue(s, vStart, ends);
    if (key === '__proto__') {
      // As JSON.parse does: an own property, never the prototype.
      Object.defineProperty(out, key, {
        value: JSON.parse(text(s, vStart, vEnd)),
        writable: true,
        configurable: true,
        enumerable: true,
      });
    } else if (vEnd - vStart <= LAZY_MEMBER_CHARS || s[vStart] === 0x7b) {
      out[key] = valueAt(s, vStart, vEnd, spans, ends);
    } else {
      defineLazy(out, key, s, vStart, vEnd);
    }
    i = skipWs(s, vEnd);
    const sep = s[i];
    if (sep === 0x7d) {
      if (i + 1 !== end) throw new LazyJsonError('unbalanced object');
      return out;
    }
    if (sep !== 0x2c) throw new LazyJsonError(`expected ',' or '}' at ${i}`);
    i = skipWs(s, i + 1);
  }
}

function defineLazy(target: Record<string, unknown>, key: string, s: Buffer, start: number, end: number): void {
  Object.defineProperty(target, key, {
    configurable: true,
    enumerable: true,
    get() {
      const value = JSON.parse(text(s, start, end)) as unknown;
      Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: true });
      return value;
    },
    set(value: unknown) {
      Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

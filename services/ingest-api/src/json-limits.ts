/**
 * Bounds on every JSON body the ingest API accepts (issue 16.1a, 16.6): what no provider accepts must not reach a batch
 * file, where it would fail the whole batch for every tenant in it. A body is refused with a 400 naming the JSON path
 * when it nests deeper than {@link JSON_LIMITS.maxDepth}, holds a string longer than `maxStringChars`, an array or an
 * object with more than `maxItems` entries, or the same key twice in one object at any depth (JSON.parse keeps the
 * last, a provider's parser may keep the first: what was validated would not be what runs).
 *
 * The scan walks the raw text with an explicit stack (never recursion), so a body nested 100 000 deep costs one pass
 * and no stack frames. It runs on text JSON.parse has already accepted, so it only needs to find structure, not to
 * validate syntax.
 */
import { ApiError } from './errors.js';

export const JSON_LIMITS = {
  /** Objects and arrays nested inside one another, the body itself being depth 1. */
  maxDepth: 64,
  /** UTF-16 code units of one string (key or value), as written (escapes counted as written). */
  maxStringChars: 10 * 1024 * 1024,
  /** Members of one object, items of one array. */
  maxItems: 10_000,
} as const;

type Frame =
  | { kind: 'object'; keys: Set<string>; key: string | undefined; count: number }
  | { kind: 'array'; count: number };

const QUOTE = 0x22;
/** First characters of a number, `true`, `false`, `null`. */
const SCALAR_START = new Set([...'-0123456789tfn'].map((ch) => ch.charCodeAt(0)));
const BACKSLASH = 0x5c;

function pathOf(stack: readonly Frame[]): string {
  let out = '';
  for (const frame of stack) {
    if (frame.kind === 'array') out += `[${Math.max(0, frame.count - 1)}]`;
    else if (frame.key !== undefined) out += out === '' ? frame.key : `.${frame.key}`;
  }
  return out === '' ? 'body' : out;
}

function refuse(param: string, code: string, message: string): ApiError {
  return new ApiError({ status: 400, type: 'invalid_request_error', code, param, message });
}

/** Throws a 400 ApiError when `text` (valid JSON) breaks one of {@link JSON_LIMITS}. */
export function checkJsonText(text: string, limits: typeof JSON_LIMITS = JSON_LIMITS): void {
  const stack: Frame[] = [];
  // In an object: whether the next string is a key (true after `{` and `,`).
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return; // not valid JSON after all: JSON.parse answered for it
        let k = j - 1;
        while (text.charCodeAt(k) === BACKSLASH) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      const length = j - i - 1;
      if (length > limits.maxStringChars) {
        throw refuse(
          pathOf(stack),
          'string_too_long',
          `a string at '${pathOf(stack)}' is ${length} characters long; the limit is ${limits.maxStringChars}`,
        );
      }
      const top = stack[stack.length - 1];
      if (top?.kind === 'array') {
        top.count++;
        if (top.count > limits.maxItems) {
          throw refuse(pathOf(stack), 'too_many_items', `an array has more than ${limits.maxItems} items`);
        }
      }
      if (expectKey && top?.kind === 'object') {
        // Only a key is decoded, and only when it holds an escape (`"\u006dodel"` is `"model"`).
        const raw = text.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, j + 1)) as string) : raw;
        if (top.keys.has(key)) {
          top.key = key;
          const at = pathOf(stack);
          throw refuse(at, 'duplicate_key', `the key '${at}' appears twice in one object; send each key once`);
        }
        top.keys.add(key);
        top.key = key;
        top.count++;
        if (top.count > limits.maxItems) {
          throw refuse(pathOf(stack), 'too_many_members', `an object has more than ${limits.maxItems} members`);
        }
        expectKey = false;
      }
      i = j;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      if (parent?.kind === 'array') parent.count++;
      if (parent?.kind === 'array' && parent.count > limits.maxItems) {
        throw refuse(pathOf(stack), 'too_many_items', `an array has more than ${limits.maxItems} items`);
      }
      stack.push(
        c === 0x7b ? { kind: 'object', keys: new Set(), key: undefined, count: 0 } : { kind: 'array', count: 0 },
      );
      if (stack.length > limits.maxDepth) {
        throw refuse(
          pathOf(stack.slice(0, limits.maxDepth)),
          'nesting_too_deep',
          `the body nests objects and arrays more than ${limits.maxDepth} levels deep`,
        );
      }
      expectKey = c === 0x7b;
      continue;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
      continue;
    }
    if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1]?.kind === 'object';
      continue;
    }
    // A scalar (number, true, false, null) as an array item: counted at its first character.
    const top = stack[stack.length - 1];
    if (top?.kind === 'array' && SCALAR_START.has(c) && !SCALAR_START.has(text.charCodeAt(i - 1))) {
      const prev = text.charCodeAt(i - 1);
      if (prev === 0x5b || prev === 0x2c || prev === 0x20 || prev === 0x0a || prev === 0x0d || prev === 0x09) {
        top.count++;
        if (top.count > limits.maxItems) {
          throw refuse(pathOf(stack), 'too_many_items', `an array has more than ${limits.maxItems} items`);
        }
      }
    }
  }
}

/**
 * The same bounds on an already parsed value, for bodies whose text was not kept (a charset other than UTF-8); duplicate
 * keys cannot be seen here. Iterative, like {@link checkJsonText}.
 */
export function checkJsonValue(value: unknown, limits: typeof JSON_LIMITS = JSON_LIMITS): void {
  const todo: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 1, path: 'body' }];
  while (todo.length > 0) {
    const { value: v, depth, path } = todo.pop() as { value: unknown; depth: number; path: string };
    if (typeof v === 'string' && v.length > limits.maxStringChars) {
      throw refuse(path, 'string_too_long', `a string at '${path}' is longer than ${limits.maxStringChars} characters`);
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limits.maxDepth) {
      throw refuse(
        path,
        'nesting_too_deep',
        `the body nests objects and arrays more than ${limits.maxDepth} levels deep`,
      );
    }
    const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v);
    if (entries.length > limits.maxItems) {
      throw refuse(
        path,
        Array.isArray(v) ? 'too_many_items' : 'too_many_members',
        `more than ${limits.maxItems} entries at '${path}'`,
      );
    }
    for (const [k, x] of entries) {
      const child = path === 'body' ? k : k.startsWith('[') ? `${path}${k}` : `${path}.${k}`;
      todo.push({ value: x, depth: depth + 1, path: child });
    }
  }
}

/**
 * The `Prefer` request header (RFC 7240) as transparent mode reads it (SPEC §8): `wait=<seconds>` asks the server to
 * hold the answer up to that long, `respond-async` asks for the asynchronous 202 right away. Several preferences may
 * share one header or come in several (Node joins repeated headers with `, `); names are case-insensitive, values may
 * be quoted, parameters after `;` are ignored. A preference the server does not understand, or a malformed value, is
 * ignored as the RFC says — never a 400.
 */

export interface Preferences {
  /** Seconds from `wait=`, when it was a non-negative integer. */
  wait: number | undefined;
  /** `respond-async` was asked for. */
  respondAsync: boolean;
}

/** Reads the preferences of a `Prefer` header value (or values). */
export function parsePrefer(header: string | readonly string[] | undefined): Preferences {
  const out: Preferences = { wait: undefined, respondAsync: false };
  if (header === undefined) return out;
  const text = typeof header === 'string' ? header : header.join(',');
  for (const raw of splitOutsideQuotes(text, ',')) {
    const preference = splitOutsideQuotes(raw, ';')[0]?.trim() ?? '';
    if (preference === '') continue;
    const eq = preference.indexOf('=');
    const name = (eq < 0 ? preference : preference.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : unquote(preference.slice(eq + 1).trim());
    if (name === 'respond-async') out.respondAsync = true;
    else if (name === 'wait' && /^\d{1,9}$/.test(value)) {
      // The first wait wins, as for any preference given twice (RFC 7240 §2).
      if (out.wait === undefined) out.wait = Number(value);
    }
  }
  return out;
}

/**
 * The wait a request gets, in seconds (0 = answer at once): its `Prefer: wait`, else the tenant's default, capped by
 * `maxWaitS` and, when the client says how long it waits for an answer (the openai SDKs send `X-Stainless-Timeout`),
 * kept a little under that so that the client receives our 202 rather than timing out itself.
 */
export function effectiveWaitS(options: {
  prefer: Preferences;
  tenantDefaultS: number | undefined;
  maxWaitS: number;
  clientTimeoutS?: number | undefined;
}): number {
  const { prefer, tenantDefaultS, maxWaitS, clientTimeoutS } = options;
  if (prefer.respondAsync && prefer.wait === undefined) return 0;
  let wait = prefer.wait ?? tenantDefaultS ?? 0;
  wait = Math.min(wait, maxWaitS);
  if (clientTimeoutS !== undefined && clientTimeoutS > 0) wait = Math.min(wait, Math.max(0, clientTimeoutS - 2));
  return Math.max(0, Math.floor(wait));
}

/** `X-Stainless-Timeout: <seconds>` (the openai SDKs' own timeout), when it is a positive number. */
export function clientTimeoutS(header: string | readonly string[] | undefined): number | undefined {
  const v = typeof header === 'string' ? header : header?.[0];
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v.trim())) return undefined;
  const n = Number(v);
  return n > 0 ? n : undefined;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i += 1;
    else if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return value;
}

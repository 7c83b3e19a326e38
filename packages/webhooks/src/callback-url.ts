// Owns the intake check of a callback URL (SPEC §3): shape, length, scheme, credentials, and whether every address
// the host stands for is allowed by the address policy. The sender repeats the address check at connection time.
import ipaddr from 'ipaddr.js';
import type { AddressPolicy } from './address-policy.js';
import { type ResolveHost, resolveHostWithDns } from './resolve-host.js';

/** Longest callback URL accepted, in characters. */
export const MAX_CALLBACK_URL_LENGTH = 2048;

/** Why a callback URL was rejected: malformed, refused by the address policy, or its host does not resolve. */
export type CallbackUrlErrorCode = 'invalid_callback_url' | 'callback_url_refused' | 'callback_url_unresolvable';

/** The outcome of {@link validateCallbackUrl}. */
export type CallbackUrlValidation = { ok: true; url: URL } | { ok: false; code: CallbackUrlErrorCode; message: string };

/** Options of {@link validateCallbackUrl}. */
export interface ValidateCallbackUrlOptions {
  /** How host names are resolved. @defaultValue {@link resolveHostWithDns} (system resolver, all addresses) */
  resolve?: ResolveHost;
}

/**
 * Validates a callback URL: absolute `http:`/`https:`, at most 2 048 characters, no credentials, and an IP literal
 * (in any form the WHATWG parser normalises: `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`) or a host name
 * whose every resolved address the policy allows.
 */
export async function validateCallbackUrl(
  raw: string,
  policy: AddressPolicy,
  options: ValidateCallbackUrlOptions = {},
): Promise<CallbackUrlValidation> {
  const resolve = options.resolve ?? resolveHostWithDns;
  if (typeof raw !== 'string' || raw.trim() === '') return invalid('callback URL is empty');
  if (raw.length > MAX_CALLBACK_URL_LENGTH) {
    return invalid(`callback URL is longer than ${MAX_CALLBACK_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return invalid('callback URL is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return invalid(`callback URL scheme must be http or https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username !== '' || url.password !== '') return invalid('callback URL must not contain credentials');
  if (url.hostname === '') return invalid('callback URL has no host');

  // The WHATWG parser has already turned decimal, hex and octal IPv4 forms into dotted quads; IPv6 keeps brackets.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (ipaddr.isValid(host)) {
    const verdict = policy.checkIp(host);
    return verdict.allowed ? { ok: true, url } : refused(`${host} is not allowed (${verdict.reason})`);
  }

  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return unresolvable(`callback host ${host} does not resolve${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  if (addresses.length === 0) return unresolvable(`callback host ${host} has no addresses`);
  for (const address of addresses) {
    const verdict = policy.checkIp(address);
    // Never the resolved address or its kind: the answer would make intake an oracle of internal DNS (issue 16.7).
    if (!verdict.allowed) return refused(`${host} resolves to an address that is not allowed (not a public address)`);
  }
  return { ok: true, url };
}

function invalid(message: string): CallbackUrlValidation {
  return { ok: false, code: 'invalid_callback_url', message };
}

function refused(message: string): CallbackUrlValidation {
  return { ok: false, code: 'callback_url_refused', message: `callback URL refused: ${message}` };
}

function unresolvable(message: string): CallbackUrlValidation {
  return { ok: false, code: 'callback_url_unresolvable', message };
}

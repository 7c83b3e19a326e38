/**
 * Who may see the operator page: `Authorization: Bearer <ADMIN_KEY>`, or the HttpOnly session cookie set by the login
 * form. The cookie holds an HMAC of the key, not the key, so a leaked cookie does not reveal ADMIN_KEY, and changing
 * the key logs every browser out. Comparisons are constant-time over fixed-length digests (no length leak).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

export const SESSION_COOKIE = 'bb_admin';
/** Browser sessions last a working day. */
export const SESSION_MAX_AGE_S = 12 * 3600;

export class AdminAuth {
  private readonly keyDigest: Buffer;
  private readonly sessionToken: string;

  constructor(adminKey: string) {
    this.keyDigest = sha256(adminKey);
    this.sessionToken = createHmac('sha256', adminKey).update('batchbridge admin session v1').digest('base64url');
  }

  /** Whether a presented key is the admin key. */
  keyMatches(presented: string): boolean {
    return timingSafeEqual(sha256(presented), this.keyDigest);
  }

  /** The cookie value a successful login sets. */
  session(): string {
    return this.sessionToken;
  }

  /** How the request proves it is the operator: by bearer key, by session cookie, or not at all. */
  authenticate(req: Request): 'bearer' | 'cookie' | undefined {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ') && this.keyMatches(header.slice(7))) return 'bearer';
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined && timingSafeEqual(sha256(cookie), sha256(this.sessionToken))) return 'cookie';
    return undefined;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

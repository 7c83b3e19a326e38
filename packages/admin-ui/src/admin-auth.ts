/**
 * Who may see the operator page: `Authorization: Bearer <ADMIN_KEY>`, or the HttpOnly session cookie set by the login
 * form (issue 16.15). A session is a random id whose SHA-256 is kept in Redis for {@link SESSION_MAX_AGE_S}: it expires
 * on the server whatever the browser does, logout deletes it, and a leaked cookie reveals nothing about ADMIN_KEY.
 * Failed logins (and wrong bearer keys) are counted per client address: {@link LOGIN_MAX_FAILURES} in
 * {@link LOGIN_WINDOW_MS} and that address gets 429s until the window ends. Key comparisons are constant-time over
 * fixed-length digests (no length leak).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeySpace } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import type { Request } from 'express';

export const SESSION_COOKIE = 'bb_admin';
/** Browser sessions last a working day. */
export const SESSION_MAX_AGE_S = 12 * 3600;
export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_MS = 15 * 60_000;

export class AdminAuth {
  private readonly keyDigest: Buffer;

  constructor(
    adminKey: string,
    private readonly redis: Runtime['redis'],
    private readonly keys: KeySpace,
  ) {
    this.keyDigest = sha256(adminKey);
  }

  /** Whether a presented key is the admin key. */
  keyMatches(presented: string): boolean {
    return timingSafeEqual(sha256(presented), this.keyDigest);
  }

  /** A new session: the cookie value a successful login sets. */
  async createSession(): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.redis.set(this.keys.adminSession(sessionDigest(id)), '1', 'PX', SESSION_MAX_AGE_S * 1000);
    return id;
  }

  /** Logout: the session stops working at once, wherever the cookie is. */
  async endSession(req: Request): Promise<void> {
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie) await this.redis.unlink(this.keys.adminSession(sessionDigest(cookie)));
  }

  /** Milliseconds this address must still wait before trying a key again (0: it may try). */
  async lockedFor(ip: string): Promise<number> {
    const key = this.keys.adminLoginFailures(ip);
    const failures = Number((await this.redis.get(key)) ?? 0);
    if (failures < LOGIN_MAX_FAILURES) return 0;
    return Math.max(1_000, await this.redis.pttl(key));
  }

  /** Counts a wrong key from this address (the window starts at its first failure). */
  async recordFailure(ip: string): Promise<void> {
    const key = this.keys.adminLoginFailures(ip);
    const n = await this.redis.incr(key);
    if (n === 1) await this.redis.pexpire(key, LOGIN_WINDOW_MS);
  }

  /** How the request proves it is the operator: by bearer key, by session cookie, by a wrong bearer, or not at all. */
  async authenticate(req: Request): Promise<'bearer' | 'cookie' | 'wrong_bearer' | undefined> {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) return this.keyMatches(header.slice(7)) ? 'bearer' : 'wrong_bearer';
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie === undefined || cookie === '' || cookie.length > 200) return undefined;
    return (await this.redis.exists(this.keys.adminSession(sessionDigest(cookie)))) === 1 ? 'cookie' : undefined;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** What Redis keeps of a session id: its digest, so a reader of Redis cannot log in with what it finds. */
function sessionDigest(id: string): string {
  return sha256(id).toString('hex');
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

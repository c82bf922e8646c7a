/**
 * Server-side state of the sign-in: logins in progress (state, PKCE verifier, the session key whose thumbprint
 * is the nonce) and signed-in sessions. Both live in this process only, keyed by random ids the browser holds in
 * HttpOnly cookies; nothing secret goes to the browser. A restart signs everyone out.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionKey } from '../../identity/web-oidc.js';

export interface PendingLogin {
  state: string;
  codeVerifier: string;
  key: SessionKey;
  returnTo: string;
  expiresAt: number;
}

export interface Session {
  login: string;
  csrf: string;
  idToken: string;
  key: SessionKey;
  /** What the provider said about the person (for the log and /api/me), never used to decide anything here. */
  subject: string;
  email: string | null;
  expiresAt: number;
}

export const newId = (bytes = 32) => randomBytes(bytes).toString('base64url');

/** A map whose entries expire, bounded (the oldest goes first), so unfinished logins cannot fill memory. */
export class ExpiringStore<T extends { expiresAt: number }> {
  private readonly entries = new Map<string, T>();
  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  put(id: string, value: T): void {
    this.sweep();
    while (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(id, value);
  }

  get(id: string | null): T | null {
    if (!id) return null;
    const v = this.entries.get(id);
    if (!v) return null;
    if (v.expiresAt <= this.now()) {
      this.entries.delete(id);
      return null;
    }
    return v;
  }

  /** Gets and forgets: a login in progress is completed at most once. */
  take(id: string | null): T | null {
    const v = this.get(id);
    if (id && v) this.entries.delete(id);
    return v;
  }

  delete(id: string | null): void {
    if (id) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, v] of this.entries) if (v.expiresAt <= now) this.entries.delete(id);
  }
}

/** Constant-time comparison of two tokens (a mismatch in length is not secret). */
export function sameToken(a: string | null | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

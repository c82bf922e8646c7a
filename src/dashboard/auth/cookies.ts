/** Cookies for the dashboard's sign-in: read from a request, written with the attributes the page needs. */
import type { IncomingMessage } from 'node:http';

export function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * HttpOnly (the page's script never needs it), SameSite=Lax, Secure when the dashboard is served over https.
 * Lax, not Strict: the sign-in ends with the provider redirecting the browser back here, a cross-site
 * navigation, and a Strict cookie would not come with it (nor with the first page after it). POSTs are guarded
 * by the CSRF token and the Origin check, not by SameSite alone.
 */
export function setCookie(name: string, value: string, opts: { secure: boolean; maxAgeS: number }): string {
  const attrs = [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${Math.max(0, opts.maxAgeS)}`,
  ];
  if (opts.secure) attrs.push('Secure');
  return attrs.join('; ');
}

export const clearCookie = (name: string, secure: boolean) => setCookie(name, '', { secure, maxAgeS: 0 });

/** `__Host-` binds a cookie to this exact origin (Secure, Path=/, no Domain); browsers allow it over https only. */
export const cookieName = (base: string, secure: boolean) => (secure ? `__Host-${base}` : base);

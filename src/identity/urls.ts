/** URL rules for anything that carries a secret or a trust root: https, except to this machine. */

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves the host. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Why a URL is not acceptable (not https, or plain http off loopback), or null when it is. */
export function httpsUnlessLoopbackProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text.slice(0, 200)}" is not a URL`;
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  if (url.protocol === 'http:')
    return `expected https: (plain http is allowed only on loopback), got ${url.origin}`;
  return `expected an https: URL, got ${url.protocol}`;
}

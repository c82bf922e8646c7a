/**
 * A browser without a page: fetch with a cookie jar that follows redirects itself, as a browser does for
 * navigations, so a sign-in runs over real HTTP between the dashboard and the provider. Cookies are kept per
 * host (browsers do not separate cookies by port), sent whatever their path, and dropped on Max-Age=0.
 */
export interface Hop {
  url: string;
  status: number;
}

export class CookieBrowser {
  readonly jar = new Map<string, Map<string, string>>();

  cookies(host: string): Map<string, string> {
    let m = this.jar.get(host);
    if (!m) this.jar.set(host, (m = new Map()));
    return m;
  }

  cookie(url: string, name: string): string | undefined {
    return this.cookies(new URL(url).hostname).get(name);
  }

  /** One request, no redirect followed; cookies sent and stored. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    const jar = this.cookies(u.hostname);
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(u, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=.*1970/i.test(a));
      if (gone || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  /** A navigation: follows 30x until a page answers; returns it and the hops taken. */
  async navigate(url: string, init: RequestInit = {}): Promise<{ res: Response; url: string; hops: Hop[] }> {
    const hops: Hop[] = [];
    let current = url;
    let options = init;
    for (let i = 0; i < 20; i++) {
      const res = await this.request(current, options);
      hops.push({ url: current, status: res.status });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        current = new URL(location, current).href;
        // 303 (and 302 after a POST, as browsers do) continue as a GET.
        options = {};
        continue;
      }
      return { res, url: current, hops };
    }
    throw new Error(`too many redirects from ${url}: ${hops.map((h) => h.url).join(' -> ')}`);
  }

  /**
   * Signs in through the dashboard as `user` at the provider: /auth/login, the provider's interaction, a
   * "form" POST, and back to the dashboard's callback. Returns where it ended.
   */
  async signIn(dashboard: string, user: string): Promise<{ res: Response; url: string; hops: Hop[] }> {
    const first = await this.navigate(`${dashboard}/auth/login`);
    if (!/\/interaction\//.test(first.url))
      throw new Error(
        `expected the provider's sign-in, got ${first.res.status} at ${first.url}: ${await first.res.text()}`,
      );
    await first.res.body?.cancel();
    const done = await this.navigate(first.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user }).toString(),
    });
    return { ...done, hops: [...first.hops, ...done.hops] };
  }

  /** GET /api/me. */
  async me(dashboard: string): Promise<{ login: string | null; csrf?: string }> {
    const res = await this.request(`${dashboard}/api/me`);
    return (await res.json()) as { login: string | null; csrf?: string };
  }

  /** What the page sends for an action: JSON, the CSRF header and this dashboard's Origin (overridable). */
  async act(
    dashboard: string,
    action: string,
    body: Record<string, unknown>,
    opts: { csrf?: string | null; origin?: string | null } = {},
  ): Promise<{ status: number; body: { ok: boolean; error?: string; exitCode?: number; result?: unknown } }> {
    const csrf = opts.csrf === undefined ? (await this.me(dashboard)).csrf : opts.csrf;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (csrf) headers['x-csrf-token'] = csrf;
    const origin = opts.origin === undefined ? new URL(dashboard).origin : opts.origin;
    if (origin) headers.origin = origin;
    const res = await this.request(`${dashboard}/api/actions/${action}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as never };
  }
}

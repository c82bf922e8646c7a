/**
 * Which URLs an external gate may fetch. Pure: the config loader checks each gate's URL with `checkGateUrl`,
 * and the gate activity checks the literal host and every address its name resolves to with
 * `resolveGateTarget` (the resolver is passed in), then connects only to the addresses checked here.
 *
 * The rules: `https:` anywhere public; plain `http:` only to loopback (a token or status travelling in clear
 * off the host is readable by anyone on the path); private ranges only when the gate allows them explicitly;
 * link-local, cloud metadata and special-purpose addresses never (no status page lives there, and metadata
 * services hand out the worker's cloud credentials).
 */

export interface GateUrlOptions {
  /** The gate's `allowPrivateNetwork`: private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7). */
  allowPrivate?: boolean;
}

export type AddressKind = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'reserved';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address a connection might use (the activity passes `dns.lookup`). */
export type GateResolver = (host: string) => Promise<ResolvedAddress[]>;

export type GateTarget =
  { ok: true; url: URL; host: string; addresses: ResolvedAddress[] } | { ok: false; problem: string };

/** The config key that allows private ranges, named in refusals so the operator knows the way out. */
export const ALLOW_PRIVATE_KEY = 'allowPrivateNetwork';

/** Names that resolve to a cloud metadata service inside the cloud (the resolved check catches others). */
const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** IPv4 metadata endpoints: AWS/GCP/Azure/OCI, ECS task credentials, EKS pod identity, Alibaba Cloud. */
const METADATA_V4 = new Set(['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200']);

const KIND_TEXT: Record<Exclude<AddressKind, 'public' | 'loopback'>, string> = {
  private: 'a private address',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  reserved: 'a special-purpose address (unspecified, multicast, documentation or reserved)',
};

function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const bytes = parts.map((p) => (/^(0|[1-9][0-9]{0,2})$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : null;
}

/** Eight 16-bit groups, or null. Accepts `::` compression, a dotted IPv4 tail and a zone id (dropped). */
function parseIPv6(input: string): number[] | null {
  let s = input.split('%')[0]!;
  let v4: number[] | null = null;
  const last = s.lastIndexOf(':');
  if (last < 0) return null;
  if (s.includes('.')) {
    v4 = parseIPv4(s.slice(last + 1));
    if (!v4) return null;
    s = `${s.slice(0, last + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const words = (part: string) =>
    part === '' ? [] : part.split(':').map((h) => (/^[0-9a-f]{1,4}$/i.test(h) ? parseInt(h, 16) : NaN));
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if ([...head, ...tail].some(Number.isNaN)) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  if (v4) {
    groups[6] = (v4[0]! << 8) | v4[1]!;
    groups[7] = (v4[2]! << 8) | v4[3]!;
  }
  return groups;
}

function classifyIPv4([a, b, c, d]: number[]): AddressKind {
  if (METADATA_V4.has(`${a}.${b}.${c}.${d}`)) return 'metadata';
  if (a === 127) return 'loopback';
  if (a === 169 && b === 254) return 'link-local';
  if (a === 10 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 100 && b! >= 64 && b! <= 127) return 'private'; // carrier-grade NAT
  if (a === 198 && (b === 18 || b === 19)) return 'private'; // benchmarking networks
  if (a === 0 || a! >= 224) return 'reserved'; // "this network" (0.0.0.0 reaches the host), multicast, 240/4
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return 'reserved';
  if ((a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return 'reserved';
  return 'public';
}

function v4From(hi: number, lo: number): number[] {
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
}

function classifyIPv6(g: number[]): AddressKind {
  const zeros = (from: number, to: number) => g.slice(from, to).every((w) => w === 0);
  if (zeros(0, 8)) return 'reserved';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach the IPv4 address inside.
  if (zeros(0, 5) && g[5] === 0xffff) return classifyIPv4(v4From(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return classifyIPv4(v4From(g[6]!, g[7]!));
  if (zeros(0, 6)) return 'reserved'; // IPv4-compatible, deprecated
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'private'; // local-use NAT64
  if (g[0] === 0x2002) {
    // 6to4 carries an IPv4 address in bits 16-47; the relay delivers to it.
    const inner = classifyIPv4(v4From(g[1]!, g[2]!));
    return inner === 'loopback' ? 'reserved' : inner;
  }
  if (g[0] === 0x2001 && (g[1] === 0 || g[1] === 0xdb8)) return 'reserved'; // Teredo, documentation
  if (g[0] === 0x100 && zeros(1, 4)) return 'reserved'; // discard-only
  if (g[0] === 0xfd00 && g[1] === 0xec2 && zeros(2, 7) && g[7] === 0x254) return 'metadata'; // AWS over IPv6
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'private'; // site-local, deprecated
  if ((g[0]! & 0xfe00) === 0xfc00) return 'private'; // unique local
  if ((g[0]! & 0xff00) === 0xff00) return 'reserved'; // multicast
  return 'public';
}

/** What kind of address an IP literal is, or null when `ip` is not an IP address. */
export function classifyAddress(ip: string): AddressKind | null {
  const v4 = parseIPv4(ip);
  if (v4) return classifyIPv4(v4);
  const v6 = ip.includes(':') ? parseIPv6(ip) : null;
  return v6 ? classifyIPv6(v6) : null;
}

/** The URL's host as connections see it: no IPv6 brackets, no trailing dot, lower case. */
function hostOf(url: URL): string {
  return url.hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

const isLocalhostName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

function kindProblem(kind: AddressKind, opts: GateUrlOptions): string | null {
  if (kind === 'public' || kind === 'loopback') return null;
  if (kind === 'private') {
    return opts.allowPrivate
      ? null
      : `${KIND_TEXT.private} (set ${ALLOW_PRIVATE_KEY}: true on the gate to allow it)`;
  }
  return KIND_TEXT[kind];
}

/**
 * A problem with `url` as a gate URL, or null when it is acceptable. Checks the scheme and the literal host;
 * the addresses a name resolves to are checked by `resolveGateTarget` when the gate is fetched.
 */
export function checkGateUrl(url: string, opts: GateUrlOptions = {}): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return `scheme ${parsed.protocol} is not allowed: a gate URL is https: (or http: to loopback)`;
  }
  const host = hostOf(parsed);
  if (!host) return 'the URL has no host';
  if (METADATA_HOSTS.has(host)) return `${host} is ${KIND_TEXT.metadata}`;
  const kind = classifyAddress(host);
  if (parsed.protocol === 'http:' && kind !== 'loopback' && !(kind === null && isLocalhostName(host))) {
    return 'plain http: is allowed only to loopback (127.0.0.1, ::1, localhost); use https:';
  }
  if (kind) {
    const problem = kindProblem(kind, opts);
    if (problem) return `${host} is ${problem}`;
  }
  return null;
}

/** A problem with one address `host` resolved to, or null. Plain http: must stay on loopback. */
export function checkResolvedAddress(
  host: string,
  address: string,
  opts: GateUrlOptions & { plainHttp?: boolean } = {},
): string | null {
  const kind = classifyAddress(address);
  if (!kind) return `${host} resolves to something that is not an IP address`;
  if (opts.plainHttp && kind !== 'loopback') {
    return `${host} resolves to ${address}, which is not loopback; plain http: is allowed only to loopback`;
  }
  const problem = kindProblem(kind, opts);
  return problem ? `${host} resolves to ${address}, ${problem}` : null;
}

/**
 * Checks `url`, resolves its host through `resolve` (not for an IP literal) and checks every address the
 * answer holds: one forbidden address refuses the gate, since a connection might use any of them. The caller
 * must connect only to the returned addresses, so a second resolution cannot swap in another one.
 * A resolver error propagates: the host is unreachable, not refused.
 */
export async function resolveGateTarget(
  url: string,
  opts: GateUrlOptions,
  resolve: GateResolver,
): Promise<GateTarget> {
  const problem = checkGateUrl(url, opts);
  if (problem) return { ok: false, problem };
  const parsed = new URL(url);
  const host = hostOf(parsed);
  const literal = classifyAddress(host);
  if (literal) {
    return {
      ok: true,
      url: parsed,
      host,
      addresses: [{ address: host, family: host.includes(':') ? 6 : 4 }],
    };
  }
  const addresses = await resolve(host);
  if (addresses.length === 0) return { ok: false, problem: `${host} resolves to no address` };
  for (const { address } of addresses) {
    const bad = checkResolvedAddress(host, address, { ...opts, plainHttp: parsed.protocol === 'http:' });
    if (bad) return { ok: false, problem: bad };
  }
  return { ok: true, url: parsed, host, addresses };
}

/** The URL as failure texts show it: scheme, host and path, without credentials, query or fragment. */
export function displayGateUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a valid URL)';
  }
}

/**
 * SSH signatures in the format `ssh-keygen -Y sign` writes (SSHSIG, see OpenSSH's PROTOCOL.sshsig), and OpenSSH
 * public keys as people list them (`ssh-ed25519 AAAA… comment`). Verification is node:crypto only, so a worker
 * needs no ssh-keygen; signing shells out to ssh-keygen, the tool people already sign git commits with (an
 * unencrypted ed25519 key file is signed in process, with the same bytes ssh-keygen writes).
 */
import { spawn } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canonicalStatement } from './statement.js';
import type { Statement } from './types.js';

export const SSHSIG_NAMESPACE = 'shipgate';
export const MIN_RSA_BITS = 2048;
/** Far above any real signature (an RSA-16384 one is about 5 KB armored). */
const MAX_ARMORED_LENGTH = 32 * 1024;

export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

export interface SshPublicKey {
  type: SshKeyType;
  /** The key's wire encoding: what SSHSIG embeds and what two keys are compared by. */
  blob: Buffer;
  key: KeyObject;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  comment: string;
}

export class SshFormatError extends Error {
  override name = 'SshFormatError';
}

const ECDSA_CURVES = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwk: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwk: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwk: 'P-521', size: 66, hash: 'sha512' },
} as const;
type EcdsaType = keyof typeof ECDSA_CURVES;
const isEcdsa = (t: string): t is EcdsaType => t in ECDSA_CURVES;

/** Reads SSH wire data (RFC 4251): uint32 lengths, strings, mpints; any overrun is a format error. */
class WireReader {
  private off = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}
  u32(): number {
    if (this.off + 4 > this.buf.length) throw new SshFormatError(`${this.what} is truncated`);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (n > this.buf.length - this.off) throw new SshFormatError(`${this.what} is truncated`);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  string(): Buffer {
    return this.bytes(this.u32());
  }
  text(): string {
    return this.string().toString('latin1');
  }
  /** A positive mpint, as unsigned big-endian bytes without leading zeros. */
  mpint(): Buffer {
    const v = this.string();
    if (v.length > 0 && v[0]! & 0x80) throw new SshFormatError(`${this.what} has a negative integer`);
    let i = 0;
    while (i < v.length && v[i] === 0) i++;
    return v.subarray(i);
  }
  end(): void {
    if (this.off !== this.buf.length) throw new SshFormatError(`${this.what} has trailing data`);
  }
}

const wireString = (data: Buffer | string) => {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

const b64url = (b: Buffer) => b.toString('base64url');

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** A public key from its wire encoding; throws SshFormatError saying what is wrong. */
export function publicKeyFromBlob(blob: Buffer, comment = ''): SshPublicKey {
  const r = new WireReader(blob, 'the public key');
  const type = r.text();
  let key: KeyObject;
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    r.end();
    if (pk.length !== 32) throw new SshFormatError('the ed25519 key is not 32 bytes');
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' });
  } else if (isEcdsa(type)) {
    const curve = ECDSA_CURVES[type];
    const name = r.text();
    const q = r.string();
    r.end();
    if (name !== curve.name) throw new SshFormatError(`the ${type} key names curve ${name}`);
    if (q.length !== 1 + 2 * curve.size || q[0] !== 0x04)
      throw new SshFormatError(`the ${type} key's point is not an uncompressed ${curve.name} point`);
    try {
      key = createPublicKey({
        key: {
          kty: 'EC',
          crv: curve.jwk,
          x: b64url(q.subarray(1, 1 + curve.size)),
          y: b64url(q.subarray(1 + curve.size)),
        },
        format: 'jwk',
      });
    } catch {
      throw new SshFormatError(`the ${type} key's point is not on the curve`);
    }
  } else if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    r.end();
    const bits = n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
    if (bits < MIN_RSA_BITS)
      throw new SshFormatError(`the RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required`);
    try {
      key = createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
    } catch {
      throw new SshFormatError('the RSA key is not valid');
    }
  } else {
    throw new SshFormatError(
      `unsupported key type ${JSON.stringify(type.slice(0, 60))} (supported: ${SSH_KEY_TYPES.join(', ')})`,
    );
  }
  return { type, blob: Buffer.from(blob), key, fingerprint: fingerprintOf(blob), comment };
}

const EXPECTED_KEY = 'expected an OpenSSH public key such as "ssh-ed25519 AAAAC3Nza… alice@laptop"';

/** `<type> <base64> [comment]`, as in an `.pub` file or `ssh-add -L`; throws SshFormatError. */
export function parsePublicKey(line: string): SshPublicKey {
  if (typeof line !== 'string') throw new SshFormatError('expected an OpenSSH public key string');
  if (line.includes('PRIVATE KEY'))
    throw new SshFormatError('this is a private key; list the public key (the .pub file) instead');
  const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*?))?\s*$/.exec(line);
  if (!m) throw new SshFormatError(EXPECTED_KEY);
  const [, type, data, comment] = m;
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type!)) {
    if (!/^(ssh|ecdsa|sk|rsa)-/.test(type!)) throw new SshFormatError(EXPECTED_KEY);
    throw new SshFormatError(
      `unsupported key type ${JSON.stringify(type!.slice(0, 60))} (supported: ${SSH_KEY_TYPES.join(', ')})`,
    );
  }
  const blob = Buffer.from(data!, 'base64');
  if (blob.length === 0 || blob.toString('base64').replace(/=+$/, '') !== data!.replace(/=+$/, ''))
    throw new SshFormatError('the key data is not valid base64');
  const parsed = publicKeyFromBlob(blob, comment ?? '');
  if (parsed.type !== type)
    throw new SshFormatError(`the key says ${type} but its data is a ${parsed.type} key`);
  return parsed;
}

/** The public key line for a parsed key (type, base64, comment). */
export function formatPublicKey(k: SshPublicKey): string {
  return `${k.type} ${k.blob.toString('base64')}${k.comment ? ` ${k.comment}` : ''}`;
}

export interface SshSignature {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: 'sha256' | 'sha512';
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`, ... */
  signatureAlgorithm: string;
  signature: Buffer;
}

const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';

/** An armored SSHSIG (what `ssh-keygen -Y sign` writes); throws SshFormatError saying what is wrong. */
export function parseSignature(armored: string): SshSignature {
  if (typeof armored !== 'string') throw new SshFormatError('the signature is not text');
  if (armored.length > MAX_ARMORED_LENGTH) throw new SshFormatError('the signature is too long');
  const text = armored.trim();
  if (!text.startsWith(ARMOR_BEGIN) || !text.endsWith(ARMOR_END))
    throw new SshFormatError(`the signature is not armored (${ARMOR_BEGIN} … ${ARMOR_END})`);
  const body = text.slice(ARMOR_BEGIN.length, text.length - ARMOR_END.length).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0)
    throw new SshFormatError('the signature is not valid base64');
  const blob = Buffer.from(body, 'base64');
  const r = new WireReader(blob, 'the signature');
  if (r.bytes(6).toString('latin1') !== 'SSHSIG') throw new SshFormatError('the signature is not an SSHSIG');
  const version = r.u32();
  if (version !== 1) throw new SshFormatError(`unsupported SSHSIG version ${version}`);
  const publicKey = publicKeyFromBlob(r.string());
  const namespace = r.string().toString('utf8');
  r.string(); // reserved
  const hashAlgorithm = r.text();
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512')
    throw new SshFormatError(`unsupported hash algorithm ${JSON.stringify(hashAlgorithm.slice(0, 40))}`);
  const inner = new WireReader(r.string(), 'the signature blob');
  r.end();
  const signatureAlgorithm = inner.text();
  const signature = inner.string();
  inner.end();
  return { publicKey, namespace, hashAlgorithm, signatureAlgorithm, signature };
}

/** The bytes SSHSIG signs: the preamble, namespace, reserved, hash algorithm and the message's hash. */
export function signedData(namespace: string, hashAlgorithm: 'sha256' | 'sha512', message: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from('SSHSIG', 'latin1'),
    wireString(Buffer.from(namespace, 'utf8')),
    wireString(''),
    wireString(hashAlgorithm),
    wireString(createHash(hashAlgorithm).update(message).digest()),
  ]);
}

export type SignatureCheck = { ok: true; signature: SshSignature } | { ok: false; reason: string };

/**
 * Verifies an armored SSHSIG over `message` in `namespace`. Says who signed (the embedded key); whether that
 * key may sign for someone is the caller's question.
 */
export function verifySshSignature(
  armored: string,
  message: string | Buffer,
  namespace: string = SSHSIG_NAMESPACE,
): SignatureCheck {
  let sig: SshSignature;
  try {
    sig = parseSignature(armored);
  } catch (err) {
    if (err instanceof SshFormatError) return { ok: false, reason: `malformed signature: ${err.message}` };
    throw err;
  }
  if (sig.namespace !== namespace)
    return {
      ok: false,
      reason: `the signature is for namespace ${JSON.stringify(sig.namespace.slice(0, 60))}, not "${namespace}" (sign with ssh-keygen -Y sign -n ${namespace})`,
    };
  const data = signedData(
    namespace,
    sig.hashAlgorithm,
    typeof message === 'string' ? Buffer.from(message) : message,
  );
  const { type, key } = sig.publicKey;
  const alg = sig.signatureAlgorithm;
  let valid: boolean;
  if (type === 'ssh-ed25519') {
    if (alg !== 'ssh-ed25519') return mismatch(type, alg);
    valid = sig.signature.length === 64 && cryptoVerify(null, data, key, sig.signature);
  } else if (isEcdsa(type)) {
    if (alg !== type) return mismatch(type, alg);
    const curve = ECDSA_CURVES[type];
    let rs: Buffer;
    try {
      const inner = new WireReader(sig.signature, 'the ECDSA signature');
      const rr = inner.mpint();
      const ss = inner.mpint();
      inner.end();
      if (rr.length > curve.size || ss.length > curve.size)
        return { ok: false, reason: 'malformed signature: the ECDSA values are too long' };
      rs = Buffer.concat([leftPad(rr, curve.size), leftPad(ss, curve.size)]);
    } catch (err) {
      if (err instanceof SshFormatError) return { ok: false, reason: `malformed signature: ${err.message}` };
      throw err;
    }
    valid = cryptoVerify(curve.hash, data, { key, dsaEncoding: 'ieee-p1363' }, rs);
  } else {
    if (alg === 'ssh-rsa')
      return {
        ok: false,
        reason:
          'the signature uses ssh-rsa (RSA with SHA-1), which is refused; sign with rsa-sha2-256 or rsa-sha2-512',
      };
    if (alg !== 'rsa-sha2-256' && alg !== 'rsa-sha2-512') return mismatch(type, alg);
    const size = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    if (sig.signature.length > size)
      return { ok: false, reason: 'malformed signature: the RSA value is too long' };
    valid = cryptoVerify(
      alg === 'rsa-sha2-256' ? 'sha256' : 'sha512',
      data,
      key,
      leftPad(sig.signature, size),
    );
  }
  if (!valid)
    return {
      ok: false,
      reason: `the signature by ${sig.publicKey.fingerprint} does not match what was signed (the statement was changed, or the signature belongs to another one)`,
    };
  return { ok: true, signature: sig };
}

function mismatch(type: string, alg: string): SignatureCheck {
  return {
    ok: false,
    reason: `malformed signature: a ${type} key with a ${JSON.stringify(alg.slice(0, 40))} signature`,
  };
}

function leftPad(b: Buffer, size: number): Buffer {
  return b.length >= size ? b : Buffer.concat([Buffer.alloc(size - b.length), b]);
}

export type SignOptions = ({ keyFile: string } | { agent: true; publicKey?: string }) & {
  /** Environment for ssh-keygen and ssh-add (SSH_AUTH_SOCK); the process's by default. */
  env?: NodeJS.ProcessEnv;
};

/**
 * Signs the statement's canonical text with `ssh-keygen -Y sign -n shipgate`, returning the armored signature.
 * `keyFile`: a private key file (ssh-keygen asks for its passphrase on the terminal if it has one).
 * `agent`: the key `publicKey` (an OpenSSH public key line), else the agent's first key (`ssh-add -L`).
 */
export async function signStatement(statement: Statement, opts: SignOptions): Promise<string> {
  const env = opts.env ?? process.env;
  const message = canonicalStatement(statement);
  if ('keyFile' in opts)
    return (await signWithKeyFile(opts.keyFile, message)) ?? sshKeygenSign(opts.keyFile, message, env);
  let line = opts.publicKey;
  if (line === undefined) {
    const listed = await run('ssh-add', ['-L'], '', env);
    if (listed.code !== 0)
      throw new Error(
        `no SSH key to sign with: ssh-add -L says ${JSON.stringify((listed.stderr || listed.stdout).trim().slice(0, 200))} (use --key FILE or SHIPGATE_SSH_KEY, or add a key to ssh-agent)`,
      );
    line = listed.stdout.split('\n').find((l) => l.trim() !== '');
    if (line === undefined)
      throw new Error('no SSH key to sign with: ssh-agent holds no keys (ssh-add KEYFILE)');
  }
  // Validate it before writing it anywhere: the line came from outside.
  const pub = parsePublicKey(line);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shipgate-sign-'));
  try {
    // With a public key file, ssh-keygen signs through the agent holding the matching private key.
    const file = path.join(dir, 'agent-key.pub');
    await writeFile(file, `${formatPublicKey(pub)}\n`, { mode: 0o600 });
    return await sshKeygenSign(file, message, env);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What `ssh-keygen -Y sign -n shipgate -f keyFile` writes, computed here, for the common key: an unencrypted
 * OpenSSH ed25519 private key only its owner can read. Ed25519 is deterministic, so the armored signature is
 * byte for byte ssh-keygen's, without starting a process (tens of milliseconds of a rollback). Anything else (a
 * passphrase, another key type, a .pub naming an agent key, loose permissions ssh-keygen refuses, a file it
 * cannot read) is null: ssh-keygen signs, or refuses, as before.
 */
async function signWithKeyFile(keyFile: string, message: string): Promise<string | null> {
  let pair: { seed: Buffer; publicKey: Buffer };
  try {
    const info = await stat(keyFile);
    if (!info.isFile() || (info.mode & 0o077) !== 0 || info.size > 16 * 1024) return null;
    pair = ed25519Key(await readFile(keyFile, 'latin1'));
  } catch {
    return null;
  }
  const der = Buffer.concat([Buffer.from(PKCS8_ED25519_PREFIX, 'hex'), pair.seed]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  // A seed that does not give the listed public key is a damaged file: ssh-keygen says what is wrong.
  const derived = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x ?? '', 'base64url');
  if (!derived.equals(pair.publicKey)) return null;
  const blob = Buffer.concat([wireString('ssh-ed25519'), wireString(pair.publicKey)]);
  const data = signedData(SSHSIG_NAMESPACE, 'sha512', Buffer.from(message));
  const signature = cryptoSign(null, data, key);
  const sig = Buffer.concat([
    Buffer.from('SSHSIG', 'latin1'),
    Buffer.from([0, 0, 0, 1]),
    wireString(blob),
    wireString(Buffer.from(SSHSIG_NAMESPACE, 'utf8')),
    wireString(''),
    wireString('sha512'),
    wireString(Buffer.concat([wireString('ssh-ed25519'), wireString(signature)])),
  ]);
  const lines = sig.toString('base64').match(/.{1,70}/g) ?? [];
  return [ARMOR_BEGIN, ...lines, ARMOR_END].join('\n');
}

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = '302e020100300506032b657004220420';

/** The seed and public key of an unencrypted openssh-key-v1 file holding one ssh-ed25519 key; throws otherwise. */
function ed25519Key(text: string): { seed: Buffer; publicKey: Buffer } {
  const m =
    /^-----BEGIN OPENSSH PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END OPENSSH PRIVATE KEY-----\s*$/.exec(
      text,
    );
  if (!m) throw new SshFormatError('not an OpenSSH private key');
  const r = new WireReader(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'), 'the private key');
  if (r.bytes(15).toString('latin1') !== 'openssh-key-v1\0') throw new SshFormatError('not openssh-key-v1');
  if (r.text() !== 'none' || r.text() !== 'none') throw new SshFormatError('the key is encrypted');
  r.string(); // kdf options
  if (r.u32() !== 1) throw new SshFormatError('not exactly one key');
  const pub = new WireReader(r.string(), 'the public key');
  const priv = new WireReader(r.string(), 'the private section');
  if (pub.text() !== 'ssh-ed25519') throw new SshFormatError('not an ed25519 key');
  const publicKey = pub.string();
  if (priv.u32() !== priv.u32()) throw new SshFormatError('the key is damaged');
  if (priv.text() !== 'ssh-ed25519') throw new SshFormatError('not an ed25519 key');
  const again = priv.string();
  const secret = priv.string();
  if (publicKey.length !== 32 || !again.equals(publicKey) || secret.length !== 64)
    throw new SshFormatError('the key is damaged');
  if (!secret.subarray(32).equals(publicKey)) throw new SshFormatError('the key is damaged');
  return { seed: Buffer.from(secret.subarray(0, 32)), publicKey: Buffer.from(publicKey) };
}

async function sshKeygenSign(keyFile: string, message: string, env: NodeJS.ProcessEnv): Promise<string> {
  const out = await run('ssh-keygen', ['-Y', 'sign', '-n', SSHSIG_NAMESPACE, '-f', keyFile], message, env);
  if (out.code !== 0 || !out.stdout.includes(ARMOR_BEGIN))
    throw new Error(
      `ssh-keygen -Y sign -f ${keyFile} failed (exit ${out.code}): ${out.stderr.trim().slice(0, 400) || 'no output'}`,
    );
  return out.stdout.trim();
}

function run(
  cmd: string,
  args: string[],
  input: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${cmd} is not installed (OpenSSH's ${cmd} signs shipgate statements)`)
          : err,
      ),
    );
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

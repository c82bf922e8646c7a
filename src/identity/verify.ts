/**
 * The worker's verdict on a proof: who sent a privileged message, through which channel, and whether it is
 * exactly the message being acted on (action, app, environment, version, run, details) at this time. Nothing
 * in the message itself is believed; the config (people, keys, secrets' names, issuer) is the trust root.
 *
 * Refusals name what failed. Replay (a digest seen before) is the acting workflow's check: it keeps the
 * digests it accepted.
 */
import type { ShipgateConfig } from '../config/schema.js';
import { LOGIN_PATTERN } from '../policy/patterns.js';
import { sha256Hex } from './sha256.js';
import { branchOfRef, createOidcVerifier } from './oidc.js';
import { parseSlackInteraction, slackDetails, slackTime, verifySlackSignature } from './slack.js';
import { parsePublicKey, SshFormatError, verifySshSignature, type SshPublicKey } from './sshsig.js';
import { canonicalStatement, checkFreshness, parseStatement, statementDigest } from './statement.js';
import {
  keyThumbprint,
  loginForOidcClaims,
  parseSessionJwk,
  verifyWebStatementSignature,
  WEB_OIDC_ACTIONS,
  WEB_OIDC_REQUIRED_CLAIMS,
  WEB_SESSION_MAX_MS,
} from './web-oidc.js';
import type { Expectation, Proof, Statement, Verified } from './types.js';

export interface ProofVerifierDeps {
  /** The worker's current config, read at each verification. */
  config: () => ShipgateConfig;
  /** Where secrets are read (the Slack signing secret, by the name slack.signingSecretEnv gives). */
  env: NodeJS.ProcessEnv;
  /** For the OIDC issuer's discovery document and keys. */
  fetch?: typeof fetch;
}

export interface ProofVerifier {
  verify(proof: Proof, expect: Expectation): Promise<Verified>;
}

type People = ShipgateConfig['people'];
type Person = People[string];

const refuse = (reason: string): Verified => ({ ok: false, reason });
const q = (v: string | null) => (v === null ? 'none' : JSON.stringify(v));

export function createProofVerifier(deps: ProofVerifierDeps): ProofVerifier {
  const oidc = createOidcVerifier({ fetch: deps.fetch });
  const keyCache = new Map<string, SshPublicKey | null>();

  /** Listed keys, parsed once each (the loader already refused bad ones; a bad one here is skipped). */
  const listedKey = (line: string): SshPublicKey | null => {
    let k = keyCache.get(line);
    if (k === undefined) {
      try {
        k = parsePublicKey(line);
      } catch (err) {
        if (!(err instanceof SshFormatError)) throw err;
        k = null;
      }
      if (keyCache.size > 1000) keyCache.clear();
      keyCache.set(line, k);
    }
    return k;
  };

  const verifySsh = (proof: Extract<Proof, { kind: 'ssh' }>, expect: Expectation): Verified => {
    const parsed = parseStatement(proof.statement);
    if (!parsed.ok) return refuse(`malformed statement: ${parsed.reason}`);
    const s = parsed.value;
    const different = statementMismatch(s, expect);
    if (different) return refuse(different);
    const fresh = checkFreshness(s.at, expect.now, { what: 'the statement' });
    if (!fresh.ok) return refuse(fresh.reason);
    const config = deps.config();
    const person = findPerson(config.people, s.login);
    if (!person)
      return refuse(`unknown login ${JSON.stringify(s.login)}: not listed under people in the config`);
    const [login, p] = person;
    const keys = (p.sshKeys ?? []).map(listedKey).filter((k): k is SshPublicKey => k !== null);
    if (keys.length === 0) return refuse(`${login} has no SSH keys in the config (people.${login}.sshKeys)`);
    if (typeof proof.signature !== 'string') return refuse('malformed signature: no signature was sent');
    const checked = verifySshSignature(proof.signature, canonicalStatement(s));
    if (!checked.ok) return refuse(checked.reason);
    const signer = checked.signature.publicKey;
    if (!keys.some((k) => k.blob.equals(signer.blob)))
      return refuse(
        `the signature is by a key not listed for ${login} (${signer.type} ${signer.fingerprint}; people.${login}.sshKeys)`,
      );
    return {
      ok: true,
      login,
      via: 'ssh',
      digest: statementDigest(s),
      at: s.at,
      claims: { key: signer.fingerprint, nonce: s.nonce },
    };
  };

  const verifySlack = (proof: Extract<Proof, { kind: 'slack' }>, expect: Expectation): Verified => {
    const config = deps.config();
    if (!config.slack) return refuse('Slack is not configured on this worker (no slack block in the config)');
    const secretEnv = config.slack.signingSecretEnv;
    const signed = verifySlackSignature({
      signingSecret: deps.env[secretEnv] ?? '',
      body: proof.body,
      timestamp: proof.timestamp,
      signature: proof.signature,
    });
    if (!signed.ok)
      return refuse(
        signed.reason.startsWith('no Slack signing secret')
          ? `the Slack signing secret is not set on this worker (${secretEnv})`
          : signed.reason,
      );
    const at = slackTime(proof.timestamp)!;
    const fresh = checkFreshness(at, expect.now, { what: 'the Slack request', maxFutureMs: 5 * 60_000 });
    if (!fresh.ok) return refuse(fresh.reason);
    const parsed = parseSlackInteraction(proof.body);
    if (!parsed.ok) return refuse(parsed.reason);
    const i = parsed.value;
    if (i.action !== expect.action)
      return refuse(`the Slack request is a ${i.action}, this request is a ${expect.action}`);
    if (i.app !== expect.app)
      return refuse(`the Slack request is for app ${i.app}, this request is for ${expect.app}`);
    if (i.action === 'rollback') {
      if (i.env !== expect.env)
        return refuse(
          `the Slack request is for environment ${q(i.env)}, this request is for ${q(expect.env)}`,
        );
      if (expect.version !== null && expect.version !== i.to)
        return refuse(
          `the Slack request rolls back to ${q(i.to ?? null)}, this request to ${q(expect.version)}`,
        );
    } else {
      if (i.version !== expect.version)
        return refuse(
          `the Slack request is for version ${q(i.version)}, this release is ${q(expect.version)}`,
        );
      if (i.run !== expect.run)
        return refuse(`the Slack button is for run ${q(i.run)}, this release is run ${q(expect.run)}`);
    }
    if (slackDetails(i) !== expect.details)
      return refuse(
        i.action === 'rollback'
          ? 'the rollback target or reason differs from what was submitted in Slack'
          : 'a Slack button carries no comment or reason, but this request has one',
      );
    const who = loginForSlackUser(config.people, i.user);
    if (!who.ok) return refuse(who.reason);
    const claims: Record<string, string> = { user: i.user, action: i.action, value: i.value };
    if (i.reason !== undefined) claims.reason = i.reason;
    return {
      ok: true,
      login: who.login,
      via: 'slack',
      digest: sha256Hex(`v0:${proof.timestamp}:${proof.body}`),
      at,
      claims,
    };
  };

  const verifyOidc = async (
    proof: Extract<Proof, { kind: 'github-oidc' }>,
    expect: Expectation,
  ): Promise<Verified> => {
    // The token binds a repository, a ref and an actor, but no action, version or run: it may start a release
    // (whose branch, commit and actor then come from it), and nothing else.
    if (expect.action !== 'release')
      return refuse(
        `a GitHub Actions token can only start a release, not ${expect.action}; sign with SSH or use Slack`,
      );
    const config = deps.config();
    const checked = await oidc.verifyToken(proof.token, config.ci.oidc, expect.now);
    if (!checked.ok) return refuse(checked.reason);
    const c = checked.claims;
    const app = config.apps[expect.app];
    if (!app) return refuse(`unknown app ${expect.app}`);
    if (!app.repository)
      return refuse(
        `apps.${expect.app}.repository is not set, so no GitHub Actions token may start ${expect.app}`,
      );
    if (c.repository!.toLowerCase() !== app.repository.toLowerCase())
      return refuse(
        `the token is from repository ${c.repository}; apps.${expect.app}.repository is ${app.repository}`,
      );
    const branch = branchOfRef(c.ref!);
    if (branch === null) return refuse(`the token is for ref ${c.ref}, which is not a branch (refs/heads/…)`);
    const who = loginForGithubUser(config.people, c.actor!);
    if (!who.ok) return refuse(who.reason);
    return {
      ok: true,
      login: who.login,
      via: 'github-oidc',
      digest: checked.digest,
      at: checked.issuedAt,
      claims: { ...c, branch },
    };
  };

  /**
   * The dashboard: the ID token proves who signed in (and names the session's key in its nonce); the statement,
   * signed by that key, proves what they asked for. See web-oidc.ts.
   */
  const verifyWebOidc = async (
    proof: Extract<Proof, { kind: 'web-oidc' }>,
    expect: Expectation,
  ): Promise<Verified> => {
    const config = deps.config();
    const settings = config.ui?.oidc;
    if (!settings)
      return refuse('dashboard sign-in is not configured on this worker (no ui.oidc in the config)');
    if (!WEB_OIDC_ACTIONS.includes(expect.action))
      return refuse(
        `a dashboard sign-in can ${WEB_OIDC_ACTIONS.join(', ')}, not ${expect.action}; sign with SSH (the CLI)`,
      );
    const parsed = parseStatement(proof.statement);
    if (!parsed.ok) return refuse(`malformed statement: ${parsed.reason}`);
    const s = parsed.value;
    const different = statementMismatch(s, expect);
    if (different) return refuse(different);
    const fresh = checkFreshness(s.at, expect.now, { what: 'the statement' });
    if (!fresh.ok) return refuse(fresh.reason);
    const key = parseSessionJwk(proof.key);
    if (!key.ok) return refuse(key.reason);
    const checked = await oidc.verifyIdToken(
      proof.token,
      { issuer: settings.issuer, audience: settings.clientId },
      expect.now,
      { field: 'ui.oidc', maxAgeMs: WEB_SESSION_MAX_MS, requiredClaims: WEB_OIDC_REQUIRED_CLAIMS },
    );
    if (!checked.ok) return refuse(`the ID token: ${checked.reason}`);
    const c = checked.payload;
    const thumbprint = keyThumbprint(key.jwk);
    if (c.nonce !== thumbprint)
      return refuse(
        "the ID token was not issued for the key that signed this request (its nonce is not the key's thumbprint)",
      );
    if (!verifyWebStatementSignature(key.jwk, s, proof.signature))
      return refuse("the statement's signature does not verify with the session key the ID token names");
    const who = loginForOidcClaims(config.people, c);
    if (!who.ok) return refuse(who.reason);
    if (who.login.toLowerCase() !== s.login.toLowerCase())
      return refuse(
        `the statement is signed for ${s.login}, but the ID token's ${who.matched} is linked to ${who.login}`,
      );
    const claims: Record<string, string> = {
      iss: settings.issuer,
      sub: String(c.sub),
      matched: who.matched,
      token: checked.digest,
      key: thumbprint,
      publicKey: key.jwk.x,
      nonce: s.nonce,
    };
    if (typeof c.email === 'string') claims.email = c.email;
    return {
      ok: true,
      login: who.login,
      via: 'web-oidc',
      digest: statementDigest(s),
      at: s.at,
      claims,
    };
  };

  const verifyAsserted = (proof: Extract<Proof, { kind: 'asserted' }>, expect: Expectation): Verified => {
    const config = deps.config();
    if (config.identity !== 'asserted')
      return refuse(
        'an unsigned (asserted) identity is refused: the config says identity: proven; sign with an SSH key (--key FILE, SHIPGATE_SSH_KEY or ssh-agent)',
      );
    if (typeof proof.login !== 'string' || !LOGIN_PATTERN.test(proof.login))
      return refuse(`${JSON.stringify(String(proof.login).slice(0, 40))} is not a login`);
    // Nothing to replay-protect in an assertion; the digest is unique per message and time instead.
    return {
      ok: true,
      login: proof.login,
      via: 'asserted',
      digest: sha256Hex(JSON.stringify({ proof: { kind: 'asserted', login: proof.login }, expect })),
      at: expect.now,
    };
  };

  return {
    async verify(proof, expect) {
      if (proof === null || typeof proof !== 'object') return refuse('no proof of identity was sent');
      const kind = (proof as { kind?: unknown }).kind;
      switch (kind) {
        case 'ssh':
          return verifySsh(proof as Extract<Proof, { kind: 'ssh' }>, expect);
        case 'slack': {
          const p = proof as Extract<Proof, { kind: 'slack' }>;
          if (
            typeof p.body !== 'string' ||
            typeof p.timestamp !== 'string' ||
            typeof p.signature !== 'string'
          )
            return refuse('malformed Slack proof: body, timestamp and signature must be strings');
          return verifySlack(p, expect);
        }
        case 'github-oidc':
          return verifyOidc(proof as Extract<Proof, { kind: 'github-oidc' }>, expect);
        case 'web-oidc': {
          const p = proof as Extract<Proof, { kind: 'web-oidc' }>;
          if (typeof p.token !== 'string' || typeof p.signature !== 'string')
            return refuse('malformed dashboard proof: token and signature must be strings');
          return verifyWebOidc(p, expect);
        }
        case 'asserted':
          return verifyAsserted(proof as Extract<Proof, { kind: 'asserted' }>, expect);
        default:
          return refuse(`unknown proof kind ${JSON.stringify(String(kind)).slice(0, 40)}`);
      }
    },
  };
}

/** What differs between a statement and the request it is offered for, or null. */
export function statementMismatch(s: Statement, expect: Expectation): string | null {
  if (s.action !== expect.action) return `the statement is for ${s.action}, this request is ${expect.action}`;
  if (s.app !== expect.app) return `the statement is for app ${s.app}, this request is for ${expect.app}`;
  if (s.env !== expect.env)
    return `the statement is for environment ${q(s.env)}, this request is for ${q(expect.env)}`;
  if (s.version !== expect.version)
    return `the statement is for version ${q(s.version)}, this request is for ${q(expect.version)}`;
  if (s.run !== expect.run)
    return `the statement is for run ${q(s.run)}, this release is run ${q(expect.run)}`;
  if (s.details !== expect.details)
    return 'the statement was signed over other details (comment, reason, target or commit) than this request carries';
  return null;
}

/** The person a login names: the exact key, else the one key equal without regard to case. */
function findPerson(people: People, login: string): [string, Person] | undefined {
  const exact = people[login];
  if (exact) return [login, exact];
  const matches = Object.entries(people).filter(([name]) => name.toLowerCase() === login.toLowerCase());
  return matches.length === 1 ? matches[0] : undefined;
}

type Identity = { ok: true; login: string } | { ok: false; reason: string };

function loginForSlackUser(people: People, user: string): Identity {
  const logins = Object.entries(people)
    .filter(([, p]) => p.slack !== undefined && p.slack.trim() === user)
    .map(([login]) => login);
  if (logins.length === 0)
    return { ok: false, reason: `Slack user ${user} is not linked to a login (people.<login>.slack)` };
  if (logins.length > 1)
    return { ok: false, reason: `Slack user ${user} is linked to several logins (${logins.join(', ')})` };
  return { ok: true, login: logins[0]! };
}

/** GitHub logins compare without regard to case, as GitHub does. */
function loginForGithubUser(people: People, actor: string): Identity {
  const logins = Object.entries(people)
    .filter(([, p]) => p.github !== undefined && p.github.trim().toLowerCase() === actor.toLowerCase())
    .map(([login]) => login);
  if (logins.length === 0)
    return { ok: false, reason: `GitHub user ${actor} is not linked to a login (people.<login>.github)` };
  if (logins.length > 1)
    return { ok: false, reason: `GitHub user ${actor} is linked to several logins (${logins.join(', ')})` };
  return { ok: true, login: logins[0]! };
}

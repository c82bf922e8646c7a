/**
 * Provers: how a channel proves who sends a privileged request. The client works out what the request is
 * (action, app, environment, version, the release's run, a digest of its details) and asks the prover for a
 * proof of exactly that; the worker checks it against the same facts, so a proof fits one request only.
 */
import { newStatement } from '../identity/statement.js';
import { signStatement } from '../identity/sshsig.js';
import { signWebStatement, type SessionKey } from '../identity/web-oidc.js';
import type { Proof, ProofScope } from '../identity/types.js';
import { BadInputError } from './errors.js';

/** What a proof is for: the statement's fields the client computes. The prover adds who, when and a nonce. */
export type ProofRequest = ProofScope;

/** Makes the proof for one privileged request. */
export type Prover = (request: ProofRequest) => Promise<Proof>;

export type SshSigner = { keyFile: string } | { agent: true; publicKey?: string };

/**
 * Signs a statement for `login` with `ssh-keygen -Y sign` (namespace shipgate): with a key file, or through
 * ssh-agent (the key `publicKey`, else the agent's first). A signing failure is bad input (exit 2): nothing
 * was sent.
 */
export function sshProver(
  opts: { login: string; env?: NodeJS.ProcessEnv; now?: () => Date } & SshSigner,
): Prover {
  return async (request) => {
    const statement = newStatement({ ...request, login: opts.login }, opts.now?.() ?? new Date());
    const how =
      'keyFile' in opts
        ? { keyFile: opts.keyFile, env: opts.env }
        : { agent: true as const, publicKey: opts.publicKey, env: opts.env };
    try {
      return { kind: 'ssh', statement, signature: await signStatement(statement, how) };
    } catch (err) {
      throw new BadInputError(
        `cannot sign as ${opts.login}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  };
}

/** An unsigned `--as`: workers accept it only under `identity: asserted` (local trials). */
export function assertedProver(login: string): Prover {
  return () => Promise.resolve({ kind: 'asserted', login });
}

/**
 * The dashboard, for a signed-in person: the statement signed with the session's key, and the ID token whose
 * nonce names that key (see src/identity/web-oidc.ts). The worker maps the token's subject or email to a login.
 */
export function webOidcProver(opts: {
  login: string;
  idToken: string;
  key: Pick<SessionKey, 'privateKey' | 'jwk'>;
  now?: () => Date;
}): Prover {
  return (request) => {
    const statement = newStatement({ ...request, login: opts.login }, opts.now?.() ?? new Date());
    return Promise.resolve({
      kind: 'web-oidc',
      token: opts.idToken,
      key: opts.key.jwk,
      statement,
      signature: signWebStatement(statement, opts.key.privateKey),
    });
  };
}

/** The login a proof claims (an SSH statement's or an assertion's), or null when only the worker can tell. */
export function claimedLogin(proof: Proof): string | null {
  if (proof.kind === 'ssh' || proof.kind === 'web-oidc') return proof.statement.login;
  if (proof.kind === 'asserted') return proof.login;
  return null;
}

/**
 * Proofs signed ahead of time. Signing is the client's cost (in process for an unencrypted ed25519 key file,
 * else one `ssh-keygen -Y sign` process per proof), not the server's or the worker's. A benchmark that measures
 * those signs every proof first, with the same signer the CLI uses (sshProver), and then hands each request its
 * proof. The statement is the same one the client would ask for; a request that asks for
 * another one fails loudly instead of sending a proof that does not fit.
 */
import type { Prover, ProofRequest } from '../../src/client.js';
import { sshProver } from '../../src/client.js';
import type { Proof } from '../../src/identity/types.js';
import { pool } from './stack.js';

const keyOf = (r: ProofRequest) =>
  JSON.stringify([r.action, r.app, r.env, r.version, r.run, r.details ?? null]);

export class PreSigned {
  private readonly proofs = new Map<string, Proof>();
  /** Wall time spent signing, and how many proofs. */
  signMs = 0;
  signed = 0;

  /** Signs each request as `login` with its key file, `concurrency` ssh-keygen processes at a time. */
  async sign(login: string, keyFile: string, requests: readonly ProofRequest[], concurrency = 4) {
    const prove = sshProver({ login, keyFile });
    const t0 = performance.now();
    await pool(requests, concurrency, async (r) => {
      this.proofs.set(`${login}:${keyOf(r)}`, await prove(r));
    });
    this.signMs += performance.now() - t0;
    this.signed += requests.length;
  }

  /** A prover for `login` that answers from the signed proofs (each used once). */
  prover(login: string): Prover {
    return (r) => {
      const k = `${login}:${keyOf(r)}`;
      const proof = this.proofs.get(k);
      if (!proof) return Promise.reject(new Error(`no pre-signed proof for ${login}: ${keyOf(r)}`));
      this.proofs.delete(k);
      return Promise.resolve(proof);
    };
  }
}

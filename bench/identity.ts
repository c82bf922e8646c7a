/**
 * (e) The cost of proven identity on an approval: the round trip of an approval signed with an SSH key (the
 *     worker verifies the SSHSIG against the key listed for the login) against the same approval with an
 *     unsigned, asserted login (nothing to verify), interleaved on one release in the same run. The client's
 *     signing (`ssh-keygen -Y sign`) is timed apart and left out of the round trip, so the difference is what
 *     verification adds on the worker. The verifier alone, in process, gives the pure cost of the check.
 *
 * One stack under `identity: asserted` (which accepts both channels): a release of an app whose one
 * environment needs more approvals than the benchmark gives, so it stays at its gate throughout.
 */
import path from 'node:path';
import { assertedProver, sshProver, type ProofRequest, type Prover } from '../src/client.js';
import { validateConfig } from '../src/config/load.js';
import { detailsDigest } from '../src/identity/statement.js';
import { createProofVerifier } from '../src/identity/verify.js';
import type { PersonKey } from '../src/cli/keys.js';
import { HELLO_SOURCE, makeKeys, startStack, tempHome, until, type Cleanup } from './lib/stack.js';
import { ms, ratio, summarize, type ResultRow } from './lib/stats.js';

const APP = 'hello';
const VERSION = '1.0.0';
const WARMUP = 3;
/** What the issue asks of verification at the median. */
const GOAL_MS = 50;

export interface IdentityOptions {
  /** Approvals measured per kind. */
  samples: number;
  log: (line: string) => void;
}

const signer = (i: number) => `signer-${i}`;
const asserter = (i: number) => `asserter-${i}`;

export function identityConfig(pairs: number, keys: Record<string, PersonKey>) {
  const members = [
    ...Array.from({ length: pairs }, (_, i) => signer(i)),
    ...Array.from({ length: pairs }, (_, i) => asserter(i)),
    'last',
  ];
  return {
    identity: 'asserted',
    groups: { reviewers: members },
    people: Object.fromEntries(Object.entries(keys).map(([login, k]) => [login, { sshKeys: [k.publicKey] }])),
    apps: {
      [APP]: {
        build: { kind: 'local', source: HELLO_SOURCE },
        environments: {
          // Never deployed: the release waits at this gate for one approval more than it gets.
          production: {
            target: { kind: 'local', port: 41_999 },
            approvals: [{ group: 'reviewers', count: members.length }],
          },
        },
      },
    },
  };
}

export async function identityBenchmark(cleanup: Cleanup, opts: IdentityOptions): Promise<ResultRow[]> {
  const { log } = opts;
  const pairs = opts.samples + WARMUP;
  const keyHome = await tempHome(cleanup, 'identity-keys');
  const keys = await makeKeys(
    path.join(keyHome, 'keys'),
    Array.from({ length: pairs }, (_, i) => signer(i)),
  );
  const config = identityConfig(pairs, keys);
  const stack = await startStack(cleanup, 'identity', config);
  const { sg } = stack;

  log(`identity: releasing ${APP} ${VERSION} to its gate`);
  await sg.release({
    app: APP,
    version: VERSION,
    commit: 'bench',
    branch: 'main',
    prove: assertedProver('dave'),
  });
  await until(
    `${APP} ${VERSION} at its approval gate`,
    async () => (await sg.status(APP, VERSION)).stage === 'awaiting-approval',
    60_000,
  );

  /** An approval's round trip, less the time its prover took (the client's signing). */
  const approve = async (prove: Prover) => {
    let proving = 0;
    const timed: Prover = async (request) => {
      const t = performance.now();
      const proof = await prove(request);
      proving += performance.now() - t;
      return proof;
    };
    const t0 = performance.now();
    await sg.approve({ app: APP, version: VERSION, prove: timed });
    return { roundTrip: performance.now() - t0 - proving, signing: proving };
  };

  log(`identity: ${opts.samples} signed and ${opts.samples} asserted approvals, interleaved`);
  const signed: number[] = [];
  const asserted: number[] = [];
  const signing: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const s = await approve(sshProver({ login: signer(i), keyFile: keys[signer(i)]!.file }));
    const a = await approve(assertedProver(asserter(i)));
    if (i < WARMUP) continue;
    signed.push(s.roundTrip);
    signing.push(s.signing);
    asserted.push(a.roundTrip);
  }
  const status = await sg.status(APP, VERSION);
  const counted = status.approvals.given.filter((g) => g.via === 'ssh').length;
  if (counted !== pairs) throw new Error(`expected ${pairs} signed approvals to count, found ${counted}`);

  // The verifier alone, in process: what the worker's local activity spends on an SSH proof.
  const loaded = validateConfig(config, path.join(stack.home, 'shipgate.yaml'));
  const verifier = createProofVerifier({ config: () => loaded.config, env: {} });
  const request: ProofRequest = {
    action: 'approve',
    app: APP,
    env: 'production',
    version: VERSION,
    run: 'bench-run',
    details: detailsDigest({}),
  };
  const proofs = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      sshProver({ login: signer(i), keyFile: keys[signer(i)]!.file })(request),
    ),
  );
  const inProcess: number[] = [];
  for (let round = 0; round < Math.max(opts.samples, 20); round++) {
    const proof = proofs[round % proofs.length]!;
    const t = performance.now();
    const v = await verifier.verify(proof, { ...request, now: new Date().toISOString() });
    inProcess.push(performance.now() - t);
    if (!v.ok) throw new Error(`the bench proof did not verify: ${v.reason}`);
  }

  const sSigned = summarize(signed);
  const sAsserted = summarize(asserted);
  const sSigning = summarize(signing);
  const sVerify = summarize(inProcess);
  const added = sSigned.median - sAsserted.median;
  const row = (figure: string, s: ReturnType<typeof summarize>, note: string): ResultRow => ({
    bench: 'e. identity',
    figure,
    n: s.n,
    median: ms(s.median),
    p95: ms(s.p95),
    ratio: note,
  });
  return [
    row('approval round trip, asserted (no proof; baseline)', sAsserted, '1.00×'),
    row(
      'approval round trip, SSH-signed (signing excluded)',
      sSigned,
      `${ratio(sSigned.median, sAsserted.median)}, ${ratio(sSigned.p95, sAsserted.p95)}`,
    ),
    {
      bench: 'e. identity',
      figure: 'verification added to an approval (signed − asserted)',
      n: sSigned.n,
      median: ms(added),
      p95: ms(sSigned.p95 - sAsserted.p95),
      ratio: `goal < ${GOAL_MS} ms at the median: ${added < GOAL_MS ? 'met' : 'NOT met'}`,
      data: { signedMedianMs: sSigned.median, assertedMedianMs: sAsserted.median, goalMs: GOAL_MS },
    },
    row('SSH proof verified in process (verifier alone)', sVerify, ''),
    row('client signing (ssh-keygen -Y sign)', sSigning, 'not part of the round trip'),
  ];
}

/**
 * Proofs of identity for the fast workflow tests: real SSH keys made by `ssh-keygen` for the example config's
 * people, and statements signed with `ssh-keygen -Y sign` exactly as a person signs one. Statements are dated
 * on the time-skipping server's clock (which runs ahead of the wall clock once it skips), since the worker
 * checks freshness against workflow time.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { canonicalStatement, newStatement } from '../../src/identity/statement.js';
import type { Proof, ProofAction, ProofScope, Statement } from '../../src/identity/types.js';
import { detailsOf } from '../../src/policy/proofs.js';
import { statusQuery } from '../../src/workflows/messages.js';
import { keyDir, sshKeygenSign, type SshKey } from '../helpers/ssh-keys.js';

/** The Slack signing secret the test workers hold, under the name the tests' configs give it. */
export const SLACK_SECRET = 'test-signing-secret-8f2a41c7';
export const SLACK_SECRET_ENV = 'SHIPGATE_TEST_SLACK_SECRET';

/** Everyone the example config names, and a few it does not put in any group. */
export const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'eve', 'mallory'] as const;
export type Person = (typeof PEOPLE)[number];

export interface Keys {
  /** Each person's own key, listed for them in the config. */
  of: Record<Person, SshKey>;
  /** A key listed for nobody. */
  stranger: SshKey;
  cleanup(): void;
}

/** An ed25519 key made by ssh-keygen (its stdin closed: it reads none, and a pipe it never opens can break). */
async function ed25519(dir: string, name: string): Promise<SshKey> {
  const file = path.join(dir, name);
  await promisify(execFile)('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    `${name}@test`,
    '-f',
    file,
  ]);
  const publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
  return { kind: 'ed25519', privateKeyFile: file, publicKeyFile: `${file}.pub`, publicKey };
}

export async function makeKeys(): Promise<Keys> {
  const { dir, cleanup } = keyDir();
  const of = {} as Record<Person, SshKey>;
  for (const p of PEOPLE) of[p] = await ed25519(dir, p);
  return { of, stranger: await ed25519(dir, 'stranger'), cleanup };
}

/** The config's `people` block: each person with their public key. */
export const peopleBlock = (keys: Keys) =>
  Object.fromEntries(PEOPLE.map((p) => [p, { sshKeys: [keys.of[p].publicKey] }]));

/** What a statement names besides the signer and time. */
export type Scope = ProofScope;

/** Signs `statement` with `key` through ssh-keygen. */
export async function signWith(key: SshKey, statement: Statement): Promise<Proof> {
  return { kind: 'ssh', statement, signature: await sshKeygenSign(key, canonicalStatement(statement)) };
}

/** A signer dated by `clock` (the server's time): proofs by a person, or with a chosen key or time. */
export function signer(keys: Keys, clock: () => Promise<number>) {
  return async (login: string, scope: Scope, opts: { key?: SshKey; at?: Date } = {}): Promise<Proof> => {
    const at = opts.at ?? new Date(await clock());
    const statement = newStatement({ ...scope, login }, at);
    const key = opts.key ?? keys.of[login as Person] ?? keys.stranger;
    return signWith(key, statement);
  };
}
export type Signer = ReturnType<typeof signer>;

/** What a release-scoped proof must name now: the release's run and the environment it stands at. */
export async function releaseScope(
  handle: WorkflowHandle,
  action: ProofAction,
  details: string,
): Promise<Scope> {
  const s = await handle.query(statusQuery);
  if (!s.proofScope) throw new Error(`release ${s.app} ${s.version} has no proof scope`);
  return { action, app: s.app, version: s.version, run: s.proofScope.run, env: s.proofScope.env, details };
}

export { detailsOf };

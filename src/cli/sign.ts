/**
 * Who runs a command, proven: the CLI signs each privileged request as the login it names (`--as`, or
 * `--actor` for a release) with an SSH key, the same kind people sign git commits with. The key comes from
 * `--key FILE`, else SHIPGATE_SSH_KEY, else ssh-agent (SSH_AUTH_SOCK). Only when the config says
 * `identity: asserted` (or SHIPGATE_IDENTITY=asserted) and no key is named does it send the login unsigned.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { assertedProver, sshProver, type Prover } from '../client/prove.js';
import { BadInputError, NoSigningKeyError } from '../client/errors.js';
import { parsePublicKey, SshFormatError } from '../identity/sshsig.js';
import type { CliContext } from './context.js';

export interface KeyOption {
  key?: string;
}

/** `--key FILE` on a command that signs. */
export function withKeyOption(cmd: Command): Command {
  return cmd.option(
    '--key <file>',
    'SSH private key to sign with (or its .pub, signing through ssh-agent); default: SHIPGATE_SSH_KEY, then ssh-agent',
  );
}

const nonEmpty = (v: string | undefined) => (v !== undefined && v.trim() !== '' ? v : undefined);

/** How this command proves that `login` sends it; NoSigningKeyError (exit 2) when it cannot. */
export async function proverFor(ctx: CliContext, login: string, o: KeyOption): Promise<Prover> {
  const env = process.env;
  const named = nonEmpty(o.key) ? { file: o.key!, from: '--key' } : undefined;
  const fromEnv = nonEmpty(env.SHIPGATE_SSH_KEY)
    ? { file: env.SHIPGATE_SSH_KEY!, from: 'SHIPGATE_SSH_KEY' }
    : undefined;
  const key = named ?? fromEnv;
  if (key) {
    const file = path.resolve(key.file);
    if (!existsSync(file)) throw new BadInputError(`${key.from}: ${key.file} does not exist`);
    return sshProver({ login, keyFile: file });
  }
  if (await assertedMode(ctx)) return assertedProver(login);
  if (nonEmpty(env.SSH_AUTH_SOCK)) {
    return sshProver({ login, agent: true, publicKey: await agentKeyFor(ctx, login) });
  }
  throw new NoSigningKeyError(
    `cannot prove you are ${login}: no SSH key to sign with. Use --key FILE (a private key whose public key is listed under people.${login}.sshKeys), set SHIPGATE_SSH_KEY, or add the key to ssh-agent (SSH_AUTH_SOCK)`,
  );
}

/** Unsigned `--as` is for local trials: only when the config or SHIPGATE_IDENTITY says `asserted`. */
async function assertedMode(ctx: CliContext): Promise<boolean> {
  const mode = nonEmpty(process.env.SHIPGATE_IDENTITY);
  if (mode !== undefined && mode !== 'asserted' && mode !== 'proven')
    throw new BadInputError(`SHIPGATE_IDENTITY: "${mode.slice(0, 40)}" is neither proven nor asserted`);
  if (mode !== undefined) return mode === 'asserted';
  return (await ctx.explicitConfig())?.config.identity === 'asserted';
}

/**
 * The agent key to sign with: with a config in hand, the first agent key listed for the login, so a person
 * holding several keys signs with the right one; otherwise (or if none is listed) the agent's first key.
 */
async function agentKeyFor(ctx: CliContext, login: string): Promise<string | undefined> {
  const listed = (await ctx.explicitConfig())?.config.people[login]?.sshKeys ?? [];
  if (listed.length === 0) return undefined;
  const blobs = listed.flatMap((line) => {
    try {
      return [parsePublicKey(line).blob];
    } catch (err) {
      if (err instanceof SshFormatError) return [];
      throw err;
    }
  });
  for (const line of await agentKeys()) {
    try {
      if (blobs.some((b) => b.equals(parsePublicKey(line).blob))) return line;
    } catch (err) {
      if (!(err instanceof SshFormatError)) throw err;
    }
  }
  return undefined;
}

/** `ssh-add -L`: the agent's public keys (none when it cannot be asked). */
function agentKeys(): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn('ssh-add', ['-L'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', () => resolve([]));
    child.on('close', (code) => resolve(code === 0 ? out.split('\n').filter((l) => l.trim() !== '') : []));
  });
}

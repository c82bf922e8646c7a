/**
 * SSH keys for the embedded default: `demo` and `dev` make one per person with ssh-keygen (ed25519, no
 * passphrase) under SHIPGATE_HOME/keys, so even a local trial signs every command as `identity: proven` asks.
 * The private keys never leave that folder; only the public keys go into the worker's view of the config.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';

export interface PersonKey {
  /** The private key file: what `--key` names. */
  file: string;
  /** Its public key line (`ssh-ed25519 AAAA… comment`). */
  publicKey: string;
}

/** The key at `dir/<login>`, made with ssh-keygen when it does not exist yet. */
export async function ensureKey(dir: string, login: string, comment: string): Promise<PersonKey> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, login);
  if (!existsSync(file)) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('error', (e) =>
        reject(
          (e as NodeJS.ErrnoException).code === 'ENOENT'
            ? new Error('ssh-keygen (OpenSSH) is needed to make signing keys')
            : e,
        ),
      );
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`ssh-keygen failed: ${err.trim()}`)),
      );
    });
  }
  return { file, publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

/** Everyone the config names (group members and people) who has no SSH key listed. */
export function loginsWithoutKeys(loaded: LoadedConfig): string[] {
  const { groups, people } = loaded.config;
  const all = new Set([...Object.values(groups).flat(), ...Object.keys(people)]);
  return [...all].filter((login) => (people[login]?.sshKeys ?? []).length === 0).sort();
}

/** The config with `keys` listed for the people who have none (what the worker believes, never the file). */
export function withKeys(loaded: LoadedConfig, keys: Record<string, PersonKey>): LoadedConfig {
  const people = { ...loaded.config.people };
  for (const [login, key] of Object.entries(keys))
    if ((people[login]?.sshKeys ?? []).length === 0)
      people[login] = { ...people[login], sshKeys: [key.publicKey] };
  return { ...loaded, config: { ...loaded.config, people } };
}

import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { Cron } from 'croner';
import { channelsAllowedBy } from '../identity/channels.js';
import { parsePublicKey } from '../identity/sshsig.js';
import { configSchema, type ShipgateConfig } from './schema.js';
import { environmentChain } from './chain.js';
import { ConfigError } from './errors.js';

export interface LoadedConfig {
  file: string;
  dir: string;
  config: ShipgateConfig;
}

export { ConfigError };

export function formatPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Finds the config: --config, then SHIPGATE_CONFIG, then ./shipgate.yaml. */
export function resolveConfigPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.SHIPGATE_CONFIG ?? 'shipgate.yaml');
}

export function loadConfig(file: string): LoadedConfig {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new ConfigError(abs, [{ path: '', message: 'config file not found' }]);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(abs, 'utf8'));
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message : String(err);
    throw new ConfigError(abs, [{ path: '', message: `not valid YAML: ${msg}` }]);
  }
  return validateConfig(raw, abs);
}

export function validateConfig(raw: unknown, file: string): LoadedConfig {
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.flatMap(describeIssue));
  const config = parsed.data;
  const dir = path.dirname(file);
  const problems = [...crossCheck(config, dir), ...identityCheck(config, raw)];
  if (problems.length > 0) throw new ConfigError(file, problems);
  // Each environment keeps only the channels its identity mode allows (`cli` stands for ssh and asserted).
  const allowed = channelsAllowedBy(config.identity);
  for (const app of Object.values(config.apps)) {
    if (app.build.kind === 'local') app.build.source = path.resolve(dir, app.build.source);
    for (const env of Object.values(app.environments)) {
      env.approvalChannels = env.approvalChannels.filter((c) => allowed.includes(c));
      // A kubeconfig next to the config file is found wherever the worker starts.
      const t = env.target;
      if (t.kind === 'kubernetes' && t.kubeconfig && t.kubeconfig !== 'in-cluster')
        t.kubeconfig = path.resolve(dir, t.kubeconfig);
    }
  }
  return { file, dir, config };
}

function describeIssue(issue: z.core.$ZodIssue): { path: string; message: string }[] {
  // A typo is reported at the misspelt key itself, where the reader will look for it.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }));
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && message.startsWith('Invalid input: expected')) {
    message = message.replace('Invalid input: ', '');
  }
  if (issue.path.length === 0 && /received undefined/.test(message))
    message = 'the config is empty; expected groups and apps';
  return [{ path: formatPath(issue.path), message }];
}

/**
 * Identity rules that span fields: a person, GitHub user or SSH key belongs to one login only (else a proof
 * would name two people), and `asserted` is listed as a channel only where identity: asserted allows it.
 */
function identityCheck(config: ShipgateConfig, raw: unknown): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const logins = new Map<string, string>();
  const githubUsers = new Map<string, string>();
  const keys = new Map<string, string>();
  for (const [login, person] of Object.entries(config.people)) {
    const other = logins.get(login.toLowerCase());
    if (other !== undefined)
      problems.push({
        path: `people.${login}`,
        message: `the same login as people.${other} (logins compare without regard to case)`,
      });
    logins.set(login.toLowerCase(), login);
    if (person.github !== undefined) {
      const user = person.github.trim().toLowerCase();
      const owner = githubUsers.get(user);
      if (owner !== undefined)
        problems.push({
          path: `people.${login}.github`,
          message: `GitHub user ${person.github} is already linked to ${owner}`,
        });
      else githubUsers.set(user, login);
    }
    (person.sshKeys ?? []).forEach((line, i) => {
      const key = parsePublicKey(line);
      const owner = keys.get(key.fingerprint);
      if (owner !== undefined && owner !== login)
        problems.push({
          path: `people.${login}.sshKeys[${i}]`,
          message: `the key ${key.fingerprint} is already listed for ${owner}; a key signs for one person only`,
        });
      else keys.set(key.fingerprint, login);
    });
  }
  if (config.identity !== 'asserted') {
    const apps = (
      raw as { apps?: Record<string, { environments?: Record<string, { approvalChannels?: unknown }> }> }
    )?.apps;
    for (const [appName, app] of Object.entries(apps ?? {})) {
      for (const [envName, env] of Object.entries(app?.environments ?? {})) {
        const listed = env?.approvalChannels;
        if (!Array.isArray(listed)) continue;
        listed.forEach((c, i) => {
          if (c === 'asserted')
            problems.push({
              path: `apps.${appName}.environments.${envName}.approvalChannels[${i}]`,
              message: `"asserted" needs identity: asserted (this config says identity: ${config.identity})`,
            });
        });
      }
    }
  }
  return problems;
}

/** Rules that span fields: references between groups, environments and ports. */
function crossCheck(config: ShipgateConfig, dir: string): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const groupNames = Object.keys(config.groups);
  const needGroup = (where: string, group: string | undefined) => {
    if (group !== undefined && !(group in config.groups)) {
      problems.push({
        path: where,
        message: `unknown group "${group}" (groups: ${groupNames.join(', ') || 'none'})`,
      });
    }
  };
  const ports = new Map<number, string>();
  for (const [appName, app] of Object.entries(config.apps)) {
    const base = `apps.${appName}`;
    if (app.build.kind === 'local') {
      const source = path.resolve(dir, app.build.source);
      if (!existsSync(source) || !statSync(source).isDirectory())
        problems.push({ path: `${base}.build.source`, message: `folder not found: ${source}` });
    }
    const chain = environmentChain(app);
    if (!Array.isArray(chain)) {
      problems.push({
        path: chain.env ? `${base}.environments.${chain.env}.after` : `${base}.environments`,
        message: chain.error,
      });
    }
    for (const [envName, env] of Object.entries(app.environments)) {
      const at = `${base}.environments.${envName}`;
      env.approvals.forEach((rule, i) => {
        needGroup(`${at}.approvals[${i}].group`, rule.group);
        const members = config.groups[rule.group];
        if (members && rule.count > members.length) {
          problems.push({
            path: `${at}.approvals[${i}].count`,
            message: `needs ${rule.count} approvals but group "${rule.group}" has only ${members.length} member(s)`,
          });
        }
      });
      needGroup(`${at}.windowOverride.group`, env.windowOverride?.group);
      needGroup(`${at}.rollbackGroup`, env.rollbackGroup);
      needGroup(`${at}.freezeGroup`, env.freezeGroup);
      // An artifact runs only where its kind can: a folder as a local process, an image on a cluster.
      const runs = env.target.kind === 'local' ? 'local' : 'image';
      if (app.build.kind !== runs)
        problems.push({
          path: `${at}.target.kind`,
          message: `a ${env.target.kind} target runs ${runs === 'local' ? 'a local build' : 'an image'}, but build.kind is ${app.build.kind}`,
        });
      // Only local targets listen on this machine; other kinds have no port to share.
      if (env.target.kind === 'local') {
        const owner = ports.get(env.target.port);
        if (owner)
          problems.push({
            path: `${at}.target.port`,
            message: `port ${env.target.port} is already used by ${owner}`,
          });
        ports.set(env.target.port, `${appName}/${envName}`);
      }
      env.windows.forEach((w, i) => {
        if (w.kind !== 'allow') return;
        const next = new Cron(w.schedule, { timezone: w.timezone, paused: true }).nextRun(new Date());
        if (!next || next.getTime() - Date.now() > 366 * 86_400_000) {
          problems.push({
            path: `${at}.windows[${i}].schedule`,
            message: `allow window "${w.name}" never opens, so nothing could ever deploy`,
          });
        }
      });
    }
  }
  return problems;
}

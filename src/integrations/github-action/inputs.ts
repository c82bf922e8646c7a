/**
 * The Action's inputs, parsed and validated before anything connects or starts. Pure: it reads inputs through
 * a function and GITHUB_* variables from the environment it is given, so unit tests need no runner.
 *
 * Validation is the client layer's, shared with the CLI, so a bad version or login fails with the CLI's
 * message, naming the input instead of the flag.
 */
import { existsSync } from 'node:fs';
import { BadInputError } from '../../client/errors.js';
import { requireAppName, requireVersion, requireWaitTarget } from '../../client/validate.js';
import { DEFAULT_OIDC_AUDIENCE } from '../../identity/oidc.js';
import { temporalOptions, type TemporalOptions } from '../../temporal/connect.js';

/** Reads one input the way `@actions/core` getInput does: trimmed, '' when not supplied. */
export type InputReader = (name: string) => string;

export interface ActionInputs {
  temporal: TemporalOptions;
  app: string;
  version: string;
  /** The audience of the GitHub Actions ID token; the workers' ci.oidc.audience. */
  audience: string;
  /** Inputs that no longer do anything but were given: the token says what they used to claim. */
  ignored: { name: DeprecatedInput; value: string }[];
  /** `none`, or the environment whose success ends the wait. */
  waitFor: string;
  timeoutMs: number;
  /** Base URL of the Temporal UI for the summary's link; null when it cannot be known. */
  uiUrl: string | null;
}

export const DEFAULT_WAIT_FOR = 'staging';
export const DEFAULT_TIMEOUT_MINUTES = 30;

/** The runner's convention: `INPUT_` + the name upper-cased with spaces as underscores (hyphens kept). */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

export function envInputReader(env: NodeJS.ProcessEnv): InputReader {
  return (name) => (env[inputVariable(name)] ?? '').trim();
}

/**
 * Inputs that once claimed the commit, branch and actor of a CI start. The GitHub Actions ID token proves them
 * now (sha, ref, actor), so they are accepted, ignored, and warned about.
 */
export const DEPRECATED_INPUTS = ['commit', 'branch', 'actor'] as const;
export type DeprecatedInput = (typeof DEPRECATED_INPUTS)[number];

/** Audiences are compared verbatim with ci.oidc.audience; keep them to one plain token. */
const AUDIENCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;

/** The inputs that carry secrets; they are masked before anything else runs. */
export const SECRET_INPUTS = ['api-key', 'tls-key'] as const;

/** The same wording as `@actions/core` getInput({ required: true }). */
export function requireInput(read: InputReader, name: string): string {
  const v = read(name);
  if (!v) throw new BadInputError(`Input required and not supplied: ${name}`);
  return v;
}

const isPem = (v: string) => v.includes('-----BEGIN ');

export function parseInputs(read: InputReader, env: NodeJS.ProcessEnv): ActionInputs {
  const app = requireAppName(requireInput(read, 'app'));
  const version = requireVersion(requireInput(read, 'version'), 'version');
  const audience = read('audience') || DEFAULT_OIDC_AUDIENCE;
  if (!AUDIENCE_PATTERN.test(audience))
    throw new BadInputError(`audience: "${audience.slice(0, 60)}" is not a valid token audience`);
  const ignored: ActionInputs['ignored'] = [];
  for (const name of DEPRECATED_INPUTS) {
    // Read, so a workflow that still passes them keeps working; never believed.
    const value = read(name);
    if (value) ignored.push({ name, value });
  }

  const waitFor = requireWaitTarget(
    read('wait-for') || DEFAULT_WAIT_FOR,
    'wait-for',
    ', such as staging or production',
  );

  const timeoutText = read('timeout-minutes') || String(DEFAULT_TIMEOUT_MINUTES);
  const minutes = Number(timeoutText);
  if (!/^\d*\.?\d+$/.test(timeoutText) || !(minutes > 0))
    throw new BadInputError(`timeout-minutes: "${timeoutText}" is not a positive number of minutes`);

  const temporal = temporalOptions(
    { address: read('address') || undefined, namespace: read('namespace') || undefined },
    env,
  );
  if (/\s/.test(temporal.address) || temporal.address.includes('://'))
    throw new BadInputError(`address: expected HOST:PORT, such as my-ns.a1b2c.tmprl.cloud:7233`);
  if (!NAMESPACE_PATTERN.test(temporal.namespace))
    throw new BadInputError(`namespace: "${temporal.namespace}" is not a valid namespace name`);
  const apiKey = read('api-key');
  if (apiKey) temporal.apiKey = apiKey;

  const tlsCert = read('tls-cert');
  const tlsKey = read('tls-key');
  if (!!tlsCert !== !!tlsKey) throw new BadInputError(`tls-cert and tls-key must be given together`);
  if (tlsCert && tlsKey) {
    // Each is the PEM text (a secret's value) or the path of a file holding it.
    for (const [name, value] of [
      ['tls-cert', tlsCert],
      ['tls-key', tlsKey],
    ] as const) {
      if (!isPem(value) && !existsSync(value))
        throw new BadInputError(`${name}: expected PEM text (-----BEGIN ...) or the path of a PEM file`);
    }
    delete temporal.tlsCert;
    delete temporal.tlsKey;
    delete temporal.tlsCertData;
    delete temporal.tlsKeyData;
    if (isPem(tlsCert)) temporal.tlsCertData = tlsCert;
    else temporal.tlsCert = tlsCert;
    if (isPem(tlsKey)) temporal.tlsKeyData = tlsKey;
    else temporal.tlsKey = tlsKey;
  }

  const uiInput = read('ui-url');
  let uiUrl: string | null;
  if (uiInput) {
    if (!/^https?:\/\/[^\s]+$/.test(uiInput) || !URL.canParse(uiInput))
      throw new BadInputError(`ui-url: "${uiInput.slice(0, 60)}" is not an http(s) URL`);
    uiUrl = uiInput.replace(/\/+$/, '');
  } else {
    uiUrl = deriveUiUrl(temporal.address);
  }

  return {
    temporal,
    app,
    version,
    audience,
    ignored,
    waitFor,
    timeoutMs: Math.round(minutes * 60_000),
    uiUrl,
  };
}

/** Temporal namespaces: letters, digits, `.`, `-`, `_` (Temporal Cloud adds `.<account>`). */
const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/**
 * Where the Temporal UI is, when the address says so: Temporal Cloud's UI for a `*.tmprl.cloud` address, and
 * the dev server's defaults (gRPC 7233, UI 8233) on loopback. Nothing else follows a convention (a self-hosted
 * frontend's UI is wherever its operator put it), so anything else is unknown: set `ui-url`.
 */
export function deriveUiUrl(address: string): string | null {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) return null;
  const host = (m[1] ?? m[2] ?? '').toLowerCase();
  const port = Number(m[3]);
  if (host.endsWith('.tmprl.cloud')) return 'https://cloud.temporal.io';
  if ((host === 'localhost' || host === '127.0.0.1' || host === '::1') && port === DEV_SERVER_GRPC_PORT)
    return `http://${host === '::1' ? '[::1]' : host}:${DEV_SERVER_UI_PORT}`;
  return null;
}

const DEV_SERVER_GRPC_PORT = 7233;
const DEV_SERVER_UI_PORT = 8233;

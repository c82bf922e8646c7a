import {
  CHANNEL_ALIAS_NAMES,
  DEFAULT_IDENTITY_MODE,
  expandChannels,
  IDENTITY_MODES,
  PROVEN_CHANNELS,
  type ProvenChannel,
} from '../identity/channels.js';
import { DEFAULT_OIDC_AUDIENCE, GITHUB_ACTIONS_ISSUER } from '../identity/oidc.js';
import { parsePublicKey, SshFormatError } from '../identity/sshsig.js';
import { httpsUnlessLoopbackProblem } from '../identity/urls.js';
import { DEFAULT_STRATEGY, KUBERNETES_STRATEGIES, LOCAL_STRATEGIES } from '../protocol/strategies.js';
import { z } from 'zod';
import { checkGateUrl } from '../policy/gate-url.js';
import { Cron } from 'croner';
import { parseDuration } from './duration.js';
import { LOGIN_PATTERN, NAME_PATTERN } from '../policy/patterns.js';

/** A duration string in, milliseconds out. */
const duration = (opts: { positive?: boolean } = {}) =>
  z.string({ error: 'expected a duration such as 90s, 5m, 24h or 7d' }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration such as 90s, 5m, 24h or 7d, got "${text}"`,
      });
      return z.NEVER;
    }
    if (opts.positive && ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a positive duration, got "${text}"` });
      return z.NEVER;
    }
    return ms;
  });

const login = z
  .string()
  .regex(LOGIN_PATTERN, { error: 'expected a login matching ^[A-Za-z0-9][A-Za-z0-9-]{0,38}$' });
const name = z
  .string()
  .regex(NAME_PATTERN, { error: 'expected a lowercase name matching ^[a-z0-9][a-z0-9-]{0,62}$' });
const positiveInt = z
  .number({ error: 'expected a positive integer' })
  .int({ error: 'expected a positive integer' })
  .positive({ error: 'expected a positive integer' });
const port = z
  .number({ error: 'expected a port number' })
  .int()
  .min(1, { error: 'expected a port between 1 and 65535' })
  .max(65535, { error: 'expected a port between 1 and 65535' });

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const timezone = z
  .string()
  .refine(isValidTimeZone, { error: (i) => `unknown IANA time zone "${String(i.input)}"` });

const cronSchedule = z.string().superRefine((expr, ctx) => {
  try {
    new Cron(expr, { paused: true });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid cron schedule "${expr}": ${(err as Error).message}` });
  }
});

export const checkSchema = z
  .strictObject({
    /** Through the target's own entry point (the local proxy; on Kubernetes `target.url` or the service proxy). */
    path: z.string().startsWith('/', { error: 'expected a path starting with /' }).optional(),
    /** An address of its own, e.g. the environment's public health URL. */
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    status: z.number().int().min(100).max(599).default(200),
    json: z.record(z.string(), z.unknown()).optional(),
    timeout: duration({ positive: true }).default(5000),
  })
  .superRefine((check, ctx) => {
    if ((check.path === undefined) === (check.url === undefined))
      ctx.addIssue({ code: 'custom', path: ['path'], message: 'expected either path or url, not both' });
  });

/** Base URLs a check's path is appended to, instead of the apiserver's service proxy. */
const baseUrl = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
  .transform((u) => u.replace(/\/+$/, ''));

const kubernetesName = z
  .string({ error: 'expected a Kubernetes object name' })
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error: 'expected a Kubernetes name: lower-case letters, digits and -, at most 63 characters',
  });

export const kubernetesTargetSchema = z
  .strictObject({
    kind: z.literal('kubernetes'),
    /** A kubeconfig file (relative paths resolve against the config file), or `in-cluster`; default: the usual chain. */
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    namespace: kubernetesName,
    /** Rolling: this Deployment. Blue-green: <deployment>-blue and -green. Canary: <deployment> and <deployment>-canary. */
    deployment: kubernetesName,
    container: kubernetesName,
    service: kubernetesName.optional(),
    strategy: z.enum(KUBERNETES_STRATEGIES).default('rolling'),
    trafficRouting: z.enum(['replicas', 'gateway-api']).default('replicas'),
    httpRoute: kubernetesName.optional(),
    /** Replicas of the serving version when shipgate creates a Deployment (otherwise the live count is kept). */
    replicas: z.number().int().min(1).max(1000).default(2),
    /** Where users reach the environment, for checks given as a path; default: the apiserver's service proxy. */
    url: baseUrl.optional(),
    /** Where the new colour or the canary alone is reached before it takes traffic; default: the service proxy. */
    previewUrl: baseUrl.optional(),
    /** The Service's port the service proxy goes through; default its first port. */
    servicePort: port.optional(),
    /** How long a rollout may take to become ready before it fails (and what served before is restored). */
    progressDeadline: duration({ positive: true }).default(600_000),
  })
  .superRefine((t, ctx) => {
    if (t.strategy !== 'rolling' && !t.service)
      ctx.addIssue({ code: 'custom', path: ['service'], message: `required for strategy ${t.strategy}` });
    if (t.trafficRouting === 'gateway-api' && t.strategy !== 'canary')
      ctx.addIssue({
        code: 'custom',
        path: ['trafficRouting'],
        message: 'gateway-api routing is for strategy canary',
      });
    if (t.trafficRouting === 'gateway-api' && !t.httpRoute)
      ctx.addIssue({
        code: 'custom',
        path: ['httpRoute'],
        message: 'required with trafficRouting: gateway-api',
      });
  });

export const windowSchema = z.strictObject({
  name: z.string().min(1, { error: 'expected a window name' }),
  kind: z.enum(['deny', 'allow'], { error: 'expected deny or allow' }),
  schedule: cronSchedule,
  duration: duration({ positive: true }),
  timezone,
});

const approvalRule = z.strictObject({ group: name, count: positiveInt });
/** A channel as written: its name, or an old name standing for some (`cli`, `github`). */
const channel = z.enum([...PROVEN_CHANNELS, ...CHANNEL_ALIAS_NAMES], {
  error: (i) =>
    `unknown channel ${JSON.stringify(String(i.input))} (channels: ${PROVEN_CHANNELS.join(', ')}; old names: ${CHANNEL_ALIAS_NAMES.join(', ')})`,
});

/** An http(s) URL that is https unless it stays on this machine: it carries a secret or a trust root. */
const httpsUrl = z.url({ error: 'expected an https URL' }).superRefine((text, ctx) => {
  // Not a URL at all is z.url's message already.
  const problem = URL.canParse(text) ? httpsUnlessLoopbackProblem(text) : null;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** An OpenSSH public key line, as in a `.pub` file or allowed_signers: parsed now, so a bad key fails the load. */
const sshPublicKey = z.string({ error: 'expected an OpenSSH public key string' }).superRefine((line, ctx) => {
  try {
    parsePublicKey(line);
  } catch (err) {
    if (!(err instanceof SshFormatError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});

/** GitHub's `owner/name`. */
const repository = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/, {
  error: 'expected a GitHub repository as owner/name',
});

export const verifySchema = z.strictObject({
  checks: z.array(checkSchema).min(1),
  duration: duration().default(0),
  interval: duration({ positive: true }).default(5000),
  failureLimit: z.number().int().min(0).default(0),
});

export const externalGateSchema = z
  .strictObject({
    name: z.string().min(1),
    url: z.url({ error: 'expected an http(s) URL' }),
    field: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    interval: duration({ positive: true }).default(60_000),
    timeout: duration({ positive: true }).default(3_600_000),
    /** Lets a gate live on a private network (10/8, 192.168/16, ...); link-local and metadata stay refused. */
    allowPrivateNetwork: z.boolean().default(false),
  })
  .superRefine((gate, ctx) => {
    // Refused at load, not first at the deploy: a gate that can never be asked would hold every release.
    const problem = checkGateUrl(gate.url, { allowPrivate: gate.allowPrivateNetwork });
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  });

export const environmentSchema = z.strictObject({
  after: name.optional(),
  branches: z.array(z.string().min(1)).min(1).optional(),
  target: z.discriminatedUnion(
    'kind',
    [z.strictObject({ kind: z.literal('local'), port }), kubernetesTargetSchema],
    {
      error: 'expected target.kind: local or kubernetes',
    },
  ),
  smoke: z.array(checkSchema).default([]),
  verify: verifySchema.optional(),
  approvals: z.array(approvalRule).default([]),
  allowSelfApproval: z.boolean().default(false),
  approvalTimeout: duration({ positive: true }).default(7 * 86_400_000),
  /** Old names expanded; the loader then keeps only the channels the identity mode allows (default: all of them). */
  approvalChannels: z
    .array(channel)
    .min(1)
    .transform((names): ProvenChannel[] => expandChannels(names))
    .default([...PROVEN_CHANNELS]),
  waitTimer: duration().default(0),
  windows: z.array(windowSchema).default([]),
  windowOverride: z.strictObject({ group: name }).optional(),
  gates: z.array(externalGateSchema).default([]),
  autoRollback: z.boolean().default(true),
  rollbackGroup: name.optional(),
  freezeGroup: name.optional(),
  rollbackDuringWindows: z.enum(['allow', 'deny']).default('allow'),
  supersede: z.boolean().default(true),
  strategy: z.enum(LOCAL_STRATEGIES).default(DEFAULT_STRATEGY),
  canarySteps: z.array(z.number().int().min(1).max(100)).default([10, 50, 100]),
  /** How long each canary step takes traffic before its checks run. */
  canaryPause: duration().default(5000),
  keepPrevious: duration().default(30 * 60_000),
  /** What a change made outside shipgate (drift) does: hold deploys, take it as current, or only warn. */
  onDrift: z.enum(['block', 'adopt', 'warn']).default('block'),
  /** How often the worker compares what runs with the ledger, on targets that can drift. */
  driftInterval: duration({ positive: true }).default(60_000),
  ledgerSize: z.number().int().min(10).max(10_000).default(200),
  /** The GitHub deployment environment this one is kept in step with (releases from the Action); default its name. */
  githubEnvironment: z
    .string({ error: 'expected the name of a GitHub environment, such as production' })
    .min(1)
    .max(255)
    .optional(),
  /** Where people reach this environment: the environment URL GitHub shows on its deployments. */
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
});

export const appSchema = z.strictObject({
  /** The GitHub repository a CI start's ID token must come from. */
  repository: repository.optional(),
  build: z.discriminatedUnion(
    'kind',
    [
      z.strictObject({
        kind: z.literal('local'),
        source: z.string().min(1),
        /** Run in the built artifact's folder with PORT and APP_VERSION set. */
        command: z.array(z.string().min(1)).min(1).default(['node', 'server.js']),
      }),
      z.strictObject({
        kind: z.literal('image'),
        /** The image CI built and pushed, e.g. registry.example.com/checkout:{{version}}. */
        image: z
          .string()
          .regex(/^[a-z0-9]+(?:[._/:-][A-Za-z0-9_{}.-]+)*$/, { error: 'expected an image reference' })
          .refine((i) => i.includes('{{version}}'), { error: 'expected {{version}} in the image reference' }),
      }),
    ],
    {
      error: 'expected build.kind: local or image',
    },
  ),
  environments: z.record(name, environmentSchema).refine((envs) => Object.keys(envs).length > 0, {
    error: 'expected at least one environment',
  }),
});

export const personSchema = z.strictObject({
  /** allowed_signers style: the keys this person signs with (the ones they sign git commits with). */
  sshKeys: z.array(sshPublicKey).optional(),
  slack: z.string().optional(),
  github: z.string().optional(),
  /** The dashboard's ID-token subject or email. */
  oidc: z.string().min(1).optional(),
});

export const ciSchema = z.strictObject({
  oidc: z
    .strictObject({
      issuer: httpsUrl.default(GITHUB_ACTIONS_ISSUER),
      audience: z.string().min(1).default(DEFAULT_OIDC_AUDIENCE),
    })
    .default({ issuer: GITHUB_ACTIONS_ISSUER, audience: DEFAULT_OIDC_AUDIENCE }),
});

/** Secrets come from the environment, by name: never a value in this file. */
const envVarName = z
  .string({ error: 'expected the name of an environment variable, such as SHIPGATE_OIDC_CLIENT_SECRET' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    error: 'expected the name of an environment variable (letters, digits and _), not the secret itself',
  });

/**
 * GitHub Deployments (releases started from the Action): the worker keeps a deployment per environment in step,
 * as a GitHub App installation or with a token from its environment, never a person's. Neither secret is ever
 * in this file: `token.env` names a variable, `app.privateKeyFile` a file (or `privateKeyEnv` a variable).
 */
const githubAppSchema = z
  .strictObject({
    appId: z
      .union([positiveInt, z.string().regex(/^[0-9]+$/, { error: 'expected the App ID, a number' })], {
        error: 'expected the App ID, a number',
      })
      .transform((id) => String(id)),
    installationId: z
      .union(
        [positiveInt, z.string().regex(/^[0-9]+$/, { error: 'expected the installation ID, a number' })],
        { error: 'expected the installation ID, a number' },
      )
      .transform((id) => String(id)),
    /** A PEM file as GitHub hands it out; relative paths resolve against the config file's folder. */
    privateKeyFile: z
      .string({ error: "expected the path of the App's private key (.pem)" })
      .min(1)
      .optional(),
    privateKeyEnv: envVarName.optional(),
    privateKey: z
      .never({
        error:
          'the private key does not belong in the config: set privateKeyFile to its .pem file or privateKeyEnv to the name of an environment variable that holds it',
      })
      .optional(),
  })
  .superRefine((app, ctx) => {
    if ((app.privateKeyFile === undefined) === (app.privateKeyEnv === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['privateKeyFile'],
        message: 'expected exactly one of privateKeyFile and privateKeyEnv',
      });
  });

export const githubSchema = z
  .strictObject({
    /** GitHub's REST API; GitHub Enterprise Server: https://HOST/api/v3. */
    api: httpsUrl.default('https://api.github.com').transform((u) => u.replace(/\/+$/, '')),
    /** A token from the worker's environment (a fine-grained token or an App's token with deployments: write). */
    token: z
      .strictObject({
        env: envVarName,
        value: z
          .never({
            error:
              'the token does not belong in the config: set token.env to the name of an environment variable that holds it',
          })
          .optional(),
      })
      .optional(),
    app: githubAppSchema.optional(),
  })
  .superRefine((gh, ctx) => {
    if ((gh.token === undefined) === (gh.app === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message:
          'expected exactly one of token: { env: NAME } and app: { appId, installationId, privateKeyFile }',
      });
  });

/**
 * The dashboard (`shipgate ui`). With `oidc`, people sign in through that OpenID provider and may approve,
 * reject and roll back (channel web-oidc); without it the page is read-only. Workers read `oidc.issuer` and
 * `oidc.clientId` to verify what the dashboard sends; only the dashboard reads the secret.
 */
export const uiSchema = z.strictObject({
  /** Where people reach the dashboard (behind a proxy): the redirect URI and the Origin check derive from it. */
  publicUrl: z
    .url({ error: 'expected the URL people open the dashboard at, such as https://deploys.example.com' })
    .superRefine((text, ctx) => {
      const problem = URL.canParse(text) ? httpsUnlessLoopbackProblem(text) : null;
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
      else if (URL.canParse(text) && !['', '/'].includes(new URL(text).pathname))
        ctx.addIssue({
          code: 'custom',
          message: 'expected an origin without a path, such as https://deploys.example.com',
        });
    })
    .transform((text) => new URL(text).origin)
    .optional(),
  oidc: z
    .strictObject({
      issuer: httpsUrl,
      clientId: z.string({ error: 'expected the client ID registered at the provider' }).min(1),
      clientSecretEnv: envVarName.default('SHIPGATE_OIDC_CLIENT_SECRET'),
      clientSecret: z
        .never({
          error:
            'the client secret does not belong in the config: set clientSecretEnv to the name of an environment variable that holds it',
        })
        .optional(),
    })
    .optional(),
});

/**
 * The S3 audit store. Credentials come from the standard AWS chain (environment, profile, web identity, instance
 * role), never from here: this file is shared and reviewed, a secret in it would leak.
 */
const notACredential = z
  .never({
    error:
      'credentials do not belong in the config: shipgate reads them from the standard AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, instance role)',
  })
  .optional();
const auditS3Schema = z.strictObject({
  bucket: z.string({ error: 'expected a bucket name' }).regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    error: 'expected an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens',
  }),
  /** Key prefix for every object the store writes; "" for the bucket's root. A trailing / is implied. */
  prefix: z
    .string({ error: 'expected a key prefix such as "shipgate/" ("" for the bucket root)' })
    .refine((p) => !p.startsWith('/'), { error: 'expected a key prefix without a leading /' })
    .transform((p) => (p === '' || p.endsWith('/') ? p : `${p}/`)),
  region: z.string({ error: 'expected an AWS region such as eu-west-1' }).min(1),
  /** An S3-compatible server instead of AWS (https, or http on loopback). */
  endpoint: httpsUrl.optional(),
  forcePathStyle: z.boolean().optional(),
  /** Retention set on every object the store writes; the bucket must have Object Lock enabled. */
  objectLock: z
    .strictObject({
      mode: z.enum(['COMPLIANCE', 'GOVERNANCE'], { error: 'expected COMPLIANCE or GOVERNANCE' }),
      days: positiveInt,
    })
    .optional(),
  accessKeyId: notACredential,
  secretAccessKey: notACredential,
  sessionToken: notACredential,
  credentials: notACredential,
});

const auditSchema = z
  .strictObject({
    store: z.enum(['jsonl', 's3'], { error: 'expected jsonl or s3' }).default('jsonl'),
    s3: auditS3Schema.optional(),
  })
  .superRefine((audit, ctx) => {
    if (audit.store === 's3' && !audit.s3)
      ctx.addIssue({
        code: 'custom',
        path: ['s3'],
        message: 'store: s3 needs an s3 block: { bucket, prefix, region }',
      });
  })
  .default({ store: 'jsonl' });

export const configSchema = z.strictObject({
  /** `proven`: every privileged message carries a proof. `asserted`: an unsigned --as counts (local trials). */
  identity: z
    .enum(IDENTITY_MODES, { error: `expected ${IDENTITY_MODES.join(' or ')}` })
    .default(DEFAULT_IDENTITY_MODE),
  groups: z.record(name, z.array(login)).default({}),
  people: z.record(login, personSchema).default({}),
  ci: ciSchema.default({ oidc: { issuer: GITHUB_ACTIONS_ISSUER, audience: DEFAULT_OIDC_AUDIENCE } }),
  slack: z
    .strictObject({
      channel: z.string().min(1),
      tokenEnv: z.string().min(1).default('SLACK_BOT_TOKEN'),
      signingSecretEnv: z.string().min(1).default('SLACK_SIGNING_SECRET'),
      apiUrl: httpsUrl.optional(),
    })
    .optional(),
  ui: uiSchema.optional(),
  github: githubSchema.optional(),
  // Where audit records go: `jsonl` under SHIPGATE_HOME (the default), or `s3` with its own block.
  audit: auditSchema,
  // How long a waiting release holds once its app or environment is gone from a config that loads, before it ends.
  configRemovedGrace: duration({ positive: true }).default(3_600_000),
  apps: z
    .record(name, appSchema)
    .refine((apps) => Object.keys(apps).length > 0, { error: 'expected at least one app' }),
});

export type ShipgateConfig = z.output<typeof configSchema>;
export type AppConfig = z.output<typeof appSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type CheckConfig = z.output<typeof checkSchema>;
export type WindowConfig = z.output<typeof windowSchema>;
export type ApprovalRule = z.output<typeof approvalRule>;
export type ApprovalChannel = ProvenChannel;
export type PersonConfig = z.output<typeof personSchema>;
export type UiConfig = z.output<typeof uiSchema>;
export type GithubConfig = z.output<typeof githubSchema>;

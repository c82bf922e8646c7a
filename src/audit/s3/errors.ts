/**
 * What went wrong talking to S3, in words an operator can act on: each message names the config field to look
 * at. Messages never carry a secret: the SDK's errors hold none, and the signature details a server returns
 * (string to sign, canonical request) are left out because they only confuse.
 */

export interface S3Where {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
}

/** An S3 audit store failure; `field` is the config field it concerns (`audit.s3.bucket`, ...). */
export class S3AuditError extends Error {
  constructor(
    message: string,
    readonly field: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'S3AuditError';
  }
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
]);
/** Unknown access key: AWS says InvalidAccessKeyId; versitygw says XAdminUserNotFound. */
const BAD_KEY = new Set(['InvalidAccessKeyId', 'XAdminUserNotFound', 'InvalidClientTokenId']);
const BAD_SIGNATURE = new Set(['SignatureDoesNotMatch', 'InvalidSignature']);
const EXPIRED = new Set(['ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'RequestExpired']);

const CHAIN_HINT =
  'shipgate reads S3 credentials from the standard AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ' +
  'AWS_PROFILE, web identity, container or instance role), never from the config';

export const codeOf = (err: unknown): string => {
  const e = (err ?? {}) as SdkErrorShape;
  return e.Code ?? (e.code && NETWORK.has(e.code) ? e.code : undefined) ?? e.name ?? 'Error';
};

export const statusOf = (err: unknown): number | undefined =>
  (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;

/** True for a conditional write that lost: the key exists (412), or another write to it is in flight (409). */
export const isConditionFailed = (err: unknown): boolean => {
  const code = codeOf(err);
  return (
    code === 'PreconditionFailed' ||
    code === 'ConditionalRequestConflict' ||
    (statusOf(err) === 412 && code !== 'Error')
  );
};

export const isNotFound = (err: unknown): boolean =>
  ['NoSuchKey', 'NotFound', 'NoSuchVersion'].includes(codeOf(err)) || statusOf(err) === 404;

/** The access key id, shortened: enough to tell which identity was used, not a secret in any case. */
const keyHint = (accessKeyId: string | undefined): string =>
  accessKeyId ? ` (access key ${accessKeyId.slice(0, 4)}…)` : '';

/**
 * Turns an SDK failure of `action` (e.g. `list s3://bucket/prefix/chain/`) into an S3AuditError naming the
 * config field at fault. Errors that are already S3AuditErrors pass through.
 */
export function describeS3Error(
  err: unknown,
  action: string,
  where: S3Where,
  accessKeyId?: string,
): S3AuditError {
  if (err instanceof S3AuditError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const code = codeOf(err);
  const server = where.endpoint ?? `AWS S3 in ${where.region}`;
  const cause = { cause: err };
  if (e.name === 'CredentialsProviderError')
    return new S3AuditError(
      `audit.s3: no AWS credentials were found for ${action}. ${CHAIN_HINT}.`,
      'audit.s3',
      'NoCredentials',
      cause,
    );
  if (BAD_KEY.has(code))
    return new S3AuditError(
      `audit.s3: ${server} does not know the access key from the AWS credential chain${keyHint(
        accessKeyId,
      )} (${code}); ${CHAIN_HINT}.`,
      'audit.s3',
      code,
      cause,
    );
  if (BAD_SIGNATURE.has(code))
    return new S3AuditError(
      `audit.s3: ${server} refused the request signature${keyHint(
        accessKeyId,
      )}: the secret access key from the AWS credential chain does not match (${code}); ${CHAIN_HINT}.`,
      'audit.s3',
      code,
      cause,
    );
  if (EXPIRED.has(code))
    return new S3AuditError(
      `audit.s3: the AWS credentials have expired or are invalid${keyHint(accessKeyId)} (${code}); ${CHAIN_HINT}.`,
      'audit.s3',
      code,
      cause,
    );
  if (code === 'NoSuchBucket')
    return new S3AuditError(
      `audit.s3.bucket: bucket "${where.bucket}" does not exist on ${server} (create it${
        where.endpoint ? '' : ' in that region'
      }, or correct audit.s3.bucket)`,
      'audit.s3.bucket',
      code,
      cause,
    );
  if (code === 'InvalidBucketName')
    return new S3AuditError(
      `audit.s3.bucket: ${server} rejects bucket name "${where.bucket}"${
        where.endpoint ? ' (an S3-compatible server usually needs audit.s3.forcePathStyle: true)' : ''
      }`,
      'audit.s3.bucket',
      code,
      cause,
    );
  if (
    ['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException'].includes(code)
  )
    return new S3AuditError(
      `audit.s3.region: bucket "${where.bucket}" is not in ${where.region} (${code})`,
      'audit.s3.region',
      code,
      cause,
    );
  if (NETWORK.has(code) || NETWORK.has(e.name ?? ''))
    return new S3AuditError(
      `audit.s3.endpoint: cannot reach ${server} (${code}) for ${action}${
        // Virtual-host addressing puts the bucket in the host name, which a server's name rarely resolves.
        code === 'ENOTFOUND' && where.endpoint && !where.forcePathStyle
          ? '; an S3-compatible server usually needs audit.s3.forcePathStyle: true'
          : ''
      }`,
      where.endpoint ? 'audit.s3.endpoint' : 'audit.s3.region',
      code,
      cause,
    );
  if (code === 'AccessDenied')
    return new S3AuditError(
      `audit.s3: access denied for ${action} on bucket "${where.bucket}"${keyHint(
        accessKeyId,
      )}: the identity needs s3:ListBucket, s3:ListBucketVersions, s3:GetObject, s3:GetObjectVersion, s3:PutObject` +
        ' and s3:PutObjectRetention on it',
      'audit.s3',
      code,
      cause,
    );
  const status = statusOf(err);
  return new S3AuditError(
    `audit.s3: ${action} failed on ${server}: ${code}${status ? ` (HTTP ${status})` : ''}${
      e.message && e.message !== code ? `: ${e.message.slice(0, 300)}` : ''
    }`,
    'audit.s3',
    code,
    cause,
  );
}

/**
 * What goes wrong talking to a cluster, as errors that name what a person must fix: the environment and file
 * for a kubeconfig, the verb and resource for RBAC, namespace and name for a missing object, the address for
 * an apiserver that does not answer.
 */
import { ApiException } from '@kubernetes/client-node';
import { DeployFailedError } from '../errors.js';

/** The kubeconfig or context cannot be used; found when the environment's worker starts. */
export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

/** RBAC refused a request: the credentials lack a verb on a resource. Retrying does not help. */
export class KubeForbiddenError extends DeployFailedError {
  override name = 'KubeForbiddenError';
}

/** An object shipgate must change does not exist (or a container is not in the pod template). */
export class KubeNotFoundError extends DeployFailedError {
  override name = 'KubeNotFoundError';
}

/** Refused before anything changed because the live objects do not fit the strategy (e.g. a Service selector). */
export class KubeRefusedError extends DeployFailedError {
  override name = 'KubeRefusedError';
}

/** The apiserver did not answer within the deadline. */
export class KubeUnreachableError extends DeployFailedError {
  override name = 'KubeUnreachableError';
}

export interface RequestDescription {
  verb: string;
  /** e.g. `deployments`, `services/proxy`, `httproutes.gateway.networking.k8s.io` */
  resource: string;
  namespace: string;
  name?: string;
}

/** The apiserver's message from an error body (a Status object, sometimes as a string). */
function statusMessage(body: unknown): string | null {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.trim() || null;
    }
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string')
    return (body as { message: string }).message;
  return null;
}

/** A network failure (nothing answered), as opposed to an answer the apiserver gave. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof ApiException) return false;
  const codes = [
    'ECONNREFUSED',
    'ECONNRESET',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ETIMEDOUT',
    'ENOTFOUND',
    'EAI_AGAIN',
  ];
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes.includes(code)) return true;
    if (e instanceof Error && /fetch failed|socket hang up|other side closed/i.test(e.message)) return true;
  }
  return false;
}

/** Why a network failure happened, from the innermost cause (ECONNREFUSED ...). */
export function networkReason(err: unknown): string {
  let last: unknown = err;
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) last = e;
  return last instanceof Error ? last.message : String(last);
}

/** Turns an apiserver answer into an error that says what it means for this request. */
export function explain(err: unknown, req: RequestDescription): unknown {
  if (!(err instanceof ApiException)) return err;
  const code = (err as ApiException<unknown>).code;
  const said = statusMessage((err as ApiException<unknown>).body) ?? `HTTP ${code}`;
  const object = `${req.resource}${req.name ? ` ${req.namespace}/${req.name}` : ` in namespace ${req.namespace}`}`;
  if (code === 403)
    return new KubeForbiddenError(
      `forbidden: shipgate's credentials may not ${req.verb} ${req.resource} in namespace ${req.namespace} ` +
        `(RBAC: grant "${req.verb}" on "${req.resource}"; see docs/kubernetes-role.yaml): ${said}`,
    );
  if (code === 404) return new KubeNotFoundError(`${object} not found: ${said}`);
  if (code === 401)
    return new KubeForbiddenError(
      `the apiserver refused shipgate's credentials (401) for ${req.verb} ${object}`,
    );
  return new Error(`${req.verb} ${object}: ${said} (HTTP ${code})`, { cause: err });
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeNotFoundError || (err instanceof ApiException && err.code === 404);
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiException && err.code === 409;
}

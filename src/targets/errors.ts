/**
 * Errors every target throws from `activate`, matched with `instanceof` (never by name or message).
 * Targets import them from here, so one class means the same thing whatever the target.
 */

/** The activation failed in a way that retrying the same version will not fix. */
export class DeployFailedError extends Error {
  override name = 'DeployFailedError';
}

/** The new version never became ready; what served before still serves. */
export class NotReadyError extends DeployFailedError {
  override name = 'NotReadyError';
}

/** A canary step's check failed; all traffic went back to the stable version. */
export class CanaryFailedError extends DeployFailedError {
  override name = 'CanaryFailedError';
}

/** The caller aborted the activation; the target put back the traffic split that served before. */
export class AbortError extends Error {
  override name = 'AbortError';
}

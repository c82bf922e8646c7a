export { createLocalTarget, type LocalTarget, type LocalTargetOptions } from './local-target.js';
export { siblingEntryArgv } from './entry.js';
export { AbortError } from './processes.js';
export { NotReadyError } from './readiness.js';
export { CanaryFailedError } from './activate.js';

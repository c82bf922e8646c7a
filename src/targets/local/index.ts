export { createLocalTarget, type LocalTarget, type LocalTargetOptions } from './local-target.js';
export type { LocalConfig, LocalRequest, LocalStatus } from './types.js';

export { createKubernetesTarget, KubernetesTarget } from './kubernetes-target.js';
export { loadKubeConfig } from './cluster.js';
export type { KubernetesTargetConfig } from './types.js';

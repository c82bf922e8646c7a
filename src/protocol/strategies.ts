/** How a target moves traffic to a new version. One list: config, workflow specs and targets read it. */
export const LOCAL_STRATEGIES = ['blue-green', 'canary', 'recreate'] as const;
/** Kubernetes: a rolling update of one Deployment, two colours behind one Service, or stable + canary. */
export const KUBERNETES_STRATEGIES = ['rolling', 'blue-green', 'canary'] as const;
export type Strategy = (typeof LOCAL_STRATEGIES)[number] | (typeof KUBERNETES_STRATEGIES)[number];

export const DEFAULT_STRATEGY: (typeof LOCAL_STRATEGIES)[number] = 'blue-green';

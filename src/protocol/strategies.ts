/** How a target moves traffic to a new version. One list: config, workflow specs and targets read it. */
export const LOCAL_STRATEGIES = ['blue-green', 'canary', 'recreate'] as const;
export type Strategy = (typeof LOCAL_STRATEGIES)[number];

export const DEFAULT_STRATEGY: Strategy = 'blue-green';

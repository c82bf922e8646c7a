import type { TargetConfig } from '../types.js';

/** An environment's `target` block for the kubernetes kind, as the config schema parses it. */
export type KubernetesTargetConfig = Extract<TargetConfig, { kind: 'kubernetes' }>;

/** The annotations shipgate writes: on the pod template (so each ReplicaSet says what it runs) and the Deployment. */
export const ANNOTATION = {
  version: 'shipgate.dev/version',
  release: 'shipgate.dev/release',
  changeCause: 'kubernetes.io/change-cause',
  /** On a warm previous colour: when the reaper may scale it to zero. */
  keepUntil: 'shipgate.dev/keep-until',
} as const;

export const LABEL = {
  /** On the ControllerRevisions holding each version's pod template. */
  deployment: 'shipgate.dev/deployment',
  managedBy: 'app.kubernetes.io/managed-by',
  /** The canary's pods (stable pods carry none). */
  track: 'shipgate.dev/track',
} as const;

/** The Kubernetes objects shipgate reads and writes, reduced to the fields it uses. */
export interface Container {
  name: string;
  image?: string;
  [k: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { containers: Container[]; [k: string]: unknown };
}

export interface DeploymentCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string>; [k: string]: unknown };
    template: PodTemplate;
    progressDeadlineSeconds?: number;
    [k: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: DeploymentCondition[];
  };
}

export interface Service {
  metadata: { name: string; resourceVersion?: string; [k: string]: unknown };
  spec: {
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
    [k: string]: unknown;
  };
}

export interface Pod {
  metadata?: { name?: string; annotations?: Record<string, string> };
  status?: { containerStatuses?: { name: string; image?: string; imageID?: string; ready?: boolean }[] };
}

/** Links into the Temporal UI (Temporal Cloud uses the same paths), for cards, job summaries and logs. */
import { releaseWorkflowId } from '../protocol/ids.js';

/** A workflow's page; with a run id, that run's history. Every part is encoded. */
export function temporalUiLink(uiUrl: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}

/** The page of a release's workflow (its latest run). */
export function releaseUiLink(uiUrl: string, namespace: string, app: string, version: string): string {
  return temporalUiLink(uiUrl, namespace, releaseWorkflowId(app, version));
}

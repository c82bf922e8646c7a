import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The seam between the read-only dashboard and the login helper (src/dashboard/auth/**).
 *
 * The dashboard server asks `handle` first for every request; it answers the routes it owns
 * (`/auth/*`, `/api/me`, `/api/actions/*`) and returns true, or returns false to let the
 * dashboard route the request. Without an `auth` object the dashboard is read-only: `/api/me`
 * answers `{ login: null }` and `/api/actions/*` are refused.
 */
export interface DashboardAuth {
  /** Handles `/auth/*`, `/api/me` and `/api/actions/*`; true when it answered the request. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** The signed-in person for this request, or null. */
  session(req: IncomingMessage): { login: string; csrf: string } | null;
}

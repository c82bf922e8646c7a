/** Starts the dashboard: the collector reading Temporal and the HTTP server over it (shipgate ui, shipgate dev). */
import type { ShipgateClient } from '../client.js';
import type { ConfigSource } from '../config/source.js';
import type { Logger } from '../logger.js';
import type { DashboardAuth } from './auth-seam.js';
import { Collector } from './collector.js';
import { startDashboardServer, type DashboardServer } from './server.js';

export interface DashboardOptions {
  sg: ShipgateClient;
  config: ConfigSource;
  port: number;
  host?: string;
  /** The Temporal UI's address, for links to each release (none without it). */
  temporalUiUrl?: string | null;
  namespace?: string;
  auth?: DashboardAuth;
  logger?: Logger;
  intervalMs?: number;
}

export interface Dashboard extends DashboardServer {
  collector: Collector;
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const links = { uiUrl: opts.temporalUiUrl ?? null, namespace: opts.namespace ?? 'default' };
  const collector = new Collector({
    sg: opts.sg,
    config: opts.config,
    links,
    logger: opts.logger,
    intervalMs: opts.intervalMs,
  });
  await collector.start();
  let server: DashboardServer;
  try {
    server = await startDashboardServer({
      collector,
      config: opts.config,
      links,
      auth: opts.auth,
      logger: opts.logger,
      host: opts.host,
      port: opts.port,
    });
  } catch (err) {
    await collector.stop();
    throw err;
  }
  return {
    ...server,
    collector,
    async close() {
      await server.close();
      await collector.stop();
    },
  };
}

// Entry of an environment's proxy process. It runs detached from whoever started it and keeps serving
// when that process dies; see local-target.ts.
import { parseArgs } from 'node:util';
import { proxyInfoPath, routePath } from './state.js';
import { runProxy } from './proxy-server.js';

const log = (message: string) => console.log(`${new Date().toISOString()} [proxy ${process.pid}] ${message}`);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, port: { type: 'string' } } });
  const token = process.env.SHIPGATE_PROXY_TOKEN;
  const port = Number(values.port);
  if (!values.dir || !Number.isInteger(port) || port < 1 || port > 65535 || !token) {
    throw new Error('usage: proxy-main --dir ENV_DIR --port PORT, with SHIPGATE_PROXY_TOKEN set');
  }
  let running;
  try {
    running = await runProxy({
      port,
      routeFile: routePath(values.dir),
      infoFile: proxyInfoPath(values.dir),
      token,
      log,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${port} on 127.0.0.1 is already in use by another program`);
    }
    throw err;
  }
  log(`listening on 127.0.0.1:${running.port}, admin on 127.0.0.1:${running.adminPort}`);

  const shutdown = (signal: string) => {
    log(`${signal}: closing`);
    setTimeout(() => process.exit(0), 3000).unref();
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`${new Date().toISOString()} [proxy ${process.pid}] cannot start: ${(err as Error).message}`);
  process.exit(1);
});

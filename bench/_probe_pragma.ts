import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { temporalCliPath } from '../src/temporal/binaries.js';
import { freePort, waitForPort } from '../src/temporal/ports.js';
import { ShipgateClient } from '../src/client.js';
import { createLocalTarget } from '../src/targets/local/local-target.js';
import { startWorker } from '../test/helpers/processes.js';
import { instantConfig } from './pipeline.js';
import { summarize } from './lib/stats.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../src/temporal/search-attributes.js';

const pragmas = (process.argv[2] ?? '').split(',').filter(Boolean);
const home = await mkdtemp(path.join(os.tmpdir(), 'sgprobe-'));
const port = await freePort();
const child = spawn(temporalCliPath(), ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(await freePort()), '--db-filename', path.join(home, 'db.sqlite'), '--log-level', 'warn',
  ...SEARCH_ATTRIBUTE_NAMES.flatMap((n) => ['--search-attribute', `${n}=Keyword`]),
  ...pragmas.flatMap((p) => ['--sqlite-pragma', p])], { stdio: 'ignore' });
await waitForPort(port, 60000);
const address = `127.0.0.1:${port}`;
const cfg = path.join(home, 'shipgate.yaml');
await writeFile(cfg, stringify(instantConfig(await freePort(), await freePort())));
const worker = await startWorker({ config: cfg, address, home });
const connection = await Connection.connect({ address });
const sg = new ShipgateClient(new Client({ connection }));
const times: number[] = [];
try {
  for (let i = 0; i < 9; i++) {
    const v = `1.0.${i}`;
    const t0 = performance.now();
    await sg.startRelease({ app: 'hello', version: v, commit: 'c' + i, branch: 'main', actor: 'dave', via: 'cli' });
    await sg.waitForRelease('hello', v, (s) => s.stage === 'awaiting-approval', { intervalMs: 10 });
    await Promise.all(['alice', 'bob'].map((by) => sg.approve('hello', v, { by, via: 'cli' })));
    await sg.release('hello', v).result();
    if (i > 0) times.push(performance.now() - t0);
  }
  console.log(pragmas.join(',') || '(none)', summarize(times));
} finally {
  await worker.stop();
  await connection.close();
  await createLocalTarget({ home }).stopAll();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(home, { recursive: true, force: true });
}
process.exit(0);

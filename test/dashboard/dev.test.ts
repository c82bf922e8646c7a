/**
 * `shipgate dev` starts the dashboard beside the dev server and worker, prints its address next to the Temporal
 * UI's, and the dashboard shows the config's grid and links releases to that UI; Ctrl-C stops it with the rest.
 */
import { expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../src/temporal/ports.js';
import { BIN, ROOT } from '../helpers/processes.js';
import { configPort, eventually, NO_SIGNER_ENV } from '../helpers/fixture.js';
import type { DashboardState } from '../../src/dashboard/view.js';

it('shipgate dev serves the dashboard on --dashboard-port and prints it next to the Temporal UI', async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-dev-ui-'));
  const configFile = path.join(home, 'shipgate.yaml');
  const [temporalPort, uiPort, dashboardPort, staging] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await configPort(),
  ];
  await writeFile(
    configFile,
    stringify({
      identity: 'asserted',
      apps: {
        hello: {
          build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
          environments: { staging: { target: { kind: 'local', port: staging } } },
        },
      },
    }),
  );
  const args = ['dev', '--config', configFile, '--port', String(temporalPort), '--ui-port', String(uiPort)];
  const dev = spawn(process.execPath, [BIN, ...args, '--dashboard-port', String(dashboardPort), '--json'], {
    env: { ...process.env, ...NO_SIGNER_ENV, SHIPGATE_HOME: path.join(home, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
  try {
    let out = '';
    let err = '';
    dev.stderr.on('data', (d) => (err += d));
    const started = await new Promise<{ address: string; ui: string; dashboard: string }>(
      (resolve, reject) => {
        dev.stdout.on('data', (d) => {
          out += d;
          try {
            resolve(JSON.parse(out) as { address: string; ui: string; dashboard: string });
          } catch {
            // not the whole document yet
          }
        });
        dev.once('exit', (code) => reject(new Error(`dev exited ${code}: ${err}`)));
      },
    );
    expect(started.dashboard).toBe(`http://127.0.0.1:${dashboardPort}`);
    expect(started.ui).toBe(`http://127.0.0.1:${uiPort}`);
    const state = (await (await fetch(`${started.dashboard}/api/state`)).json()) as DashboardState;
    expect(state.apps).toEqual([{ name: 'hello', environments: ['staging'] }]);
    expect(state.cells['hello/staging']).toMatchObject({ health: 'none', current: null });

    const r = await new Promise<number | null>((resolve) => {
      const c = spawn(
        process.execPath,
        [BIN, 'release', 'hello', '1.0.0', '--commit', 'c1', '--branch', 'main', '--actor', 'dave'],
        {
          env: {
            ...process.env,
            ...NO_SIGNER_ENV,
            SHIPGATE_IDENTITY: 'asserted',
            TEMPORAL_ADDRESS: started.address,
          },
          stdio: 'ignore',
        },
      );
      c.once('exit', resolve);
    });
    expect(r).toBe(0);
    const served = await eventually('staging serves 1.0.0 on the dashboard', async () => {
      const s = (await (await fetch(`${started.dashboard}/api/state`)).json()) as DashboardState;
      // The version serves from its switch on, and the deploy settles after its checks: wait for both.
      const cell = s.cells['hello/staging'];
      return cell?.current?.version === '1.0.0' && cell.health !== 'deploying' ? s : undefined;
    });
    expect(served.cells['hello/staging']).toMatchObject({ health: 'serving', current: { by: 'dave' } });
    const timeline = (await (
      await fetch(`${started.dashboard}/api/timeline?app=hello&env=staging`)
    ).json()) as {
      rows: { link: string | null }[];
    };
    expect(timeline.rows[0]!.link).toBe(`${started.ui}/namespaces/default/workflows/release%2Fhello%2F1.0.0`);
  } finally {
    dev.kill('SIGINT');
    expect(await exited).toBe(0);
    await rm(home, { recursive: true, force: true });
  }
});

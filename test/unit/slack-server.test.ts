/**
 * The Slack endpoint's response_url allow-list. A click's ephemeral reply is posted back to the click's
 * response_url, which arrives inside the (signed) payload: the endpoint posts only to Slack's own host, or to
 * the configured `slack.apiUrl` origin (a stand-in for tests). Here the real endpoint listens on a real socket,
 * and two stand-ins for Slack's Web API (real HTTP) play the allowed origin and a foreign one. Temporal is never
 * reached: the clicks used need no Update.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { ShipgateClient } from '../../src/client.js';
import { validateConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import {
  createSlackServer,
  responseUrlAllowed,
  type SlackServer,
} from '../../src/integrations/slack/server.js';
import { ROOT } from '../helpers/processes.js';
import {
  interactionBody,
  postToEndpoint,
  startSlackApiStandin,
  type SlackApiStandin,
} from '../helpers/slack-api-standin.js';

const SECRET = 'unit-signing-secret';

describe('response_url allow-list (pure)', () => {
  const apiUrl = 'http://127.0.0.1:4000/api/';

  it("allows Slack's own https host, and the configured apiUrl's origin", () => {
    expect(responseUrlAllowed('https://hooks.slack.com/actions/T0/1/abc')).toBe(true);
    expect(responseUrlAllowed('http://127.0.0.1:4000/actions/x', apiUrl)).toBe(true);
  });

  it('refuses other schemes, hosts that merely contain Slack’s, other ports and malformed URLs', () => {
    expect(responseUrlAllowed('http://hooks.slack.com/actions/x')).toBe(false);
    expect(responseUrlAllowed('https://hooks.slack.com.evil.example/actions/x')).toBe(false);
    expect(responseUrlAllowed('https://evil.example/?https://hooks.slack.com/')).toBe(false);
    expect(responseUrlAllowed('http://127.0.0.1:4001/actions/x', apiUrl)).toBe(false);
    expect(responseUrlAllowed('http://127.0.0.1:4000/actions/x')).toBe(false);
    expect(responseUrlAllowed('not a url', apiUrl)).toBe(false);
    expect(responseUrlAllowed('http://127.0.0.1:4000/actions/x', 'not a url')).toBe(false);
  });
});

describe('the endpoint posts replies only to an allowed response_url (real endpoint, stand-ins over real HTTP)', () => {
  let allowed: SlackApiStandin;
  let foreign: SlackApiStandin;
  let server: SlackServer;
  let url: string;
  let home: string;
  let connection: Connection;

  beforeAll(async () => {
    allowed = await startSlackApiStandin();
    foreign = await startSlackApiStandin();
    home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-slack-server-'));
    const config = staticConfigSource(
      validateConfig(
        {
          groups: { 'team-leads': ['alice'] },
          people: { alice: { slack: 'U0ALICE' } },
          slack: { channel: 'C0DEPLOYS', apiUrl: allowed.apiUrl },
          apps: {
            hello: {
              build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
              environments: { production: { target: { kind: 'local', port: 19003 } } },
            },
          },
        },
        path.join(ROOT, 'shipgate.yaml'),
      ),
    );
    // A lazy connection never dials unless used; these clicks never use it.
    connection = Connection.lazy({ address: '127.0.0.1:1' });
    server = createSlackServer({
      config,
      signingSecret: SECRET,
      sg: new ShipgateClient(new Client({ connection })),
      audit: createJsonlAuditStore(path.join(home, 'audit.jsonl')),
      logger: pino({ level: 'silent' }),
    });
    url = (await server.listen(0)).url;
  });
  afterAll(async () => {
    await server?.close();
    await connection?.close();
    await allowed?.close();
    await foreign?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** A "Roll back to X" click: without a bot token the endpoint answers with the CLI command, no Temporal call. */
  const rollbackClick = (responseUrl: string) => ({
    type: 'block_actions',
    user: { id: 'U0ALICE' },
    trigger_id: 'trigger-1',
    response_url: responseUrl,
    actions: [
      {
        action_id: 'shipgate.rollback',
        value: JSON.stringify({ app: 'hello', env: 'production', to: '1.0.0' }),
      },
    ],
  });

  it('posts the ephemeral reply to the allowed origin', async () => {
    const r = await postToEndpoint(url, interactionBody(rollbackClick(allowed.responseUrl('ok'))), {
      secret: SECRET,
    });
    expect(r.status).toBe(200);
    expect(String(r.body?.text)).toContain('shipgate rollback hello production --to 1.0.0 --as alice');
    await server.idle();
    expect(allowed.responses.map((x) => [x.path, x.body.response_type])).toEqual([
      ['/actions/ok', 'ephemeral'],
    ]);
  });

  it('answers the click but posts nothing to a response_url on another origin', async () => {
    const r = await postToEndpoint(url, interactionBody(rollbackClick(foreign.responseUrl('stolen'))), {
      secret: SECRET,
    });
    expect(r.status).toBe(200);
    // Background work (the response_url post, had it been allowed) is done once the server is idle.
    await server.idle();
    expect(foreign.responses).toEqual([]);
  });
});

/**
 * The Slack endpoint on a real socket, for what it decides before any Update: the response_url allow-list (a
 * click's ephemeral reply goes only to Slack's own host, or to the configured `slack.apiUrl` origin, played by
 * stand-ins for Slack's Web API over real HTTP), and its defences against traffic Slack did not send (headers
 * checked before the body is read, a body cap, a body deadline, a bounded number of connections, replays).
 * Temporal is never reached: the requests used need no Update.
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
  MAX_BODY_BYTES,
  responseUrlAllowed,
  type SlackServer,
} from '../../src/integrations/slack/server.js';
import { ROOT } from '../helpers/processes.js';
import {
  interactionBody,
  postToEndpoint,
  rawExchange,
  slackSignature,
  slowConnection,
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

let allowed: SlackApiStandin;
let foreign: SlackApiStandin;
let home: string;
let connection: Connection;
beforeAll(async () => {
  allowed = await startSlackApiStandin();
  foreign = await startSlackApiStandin();
  home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-slack-server-'));
  // A lazy connection never dials unless used; these requests never use it.
  connection = Connection.lazy({ address: '127.0.0.1:1' });
});
afterAll(async () => {
  await connection?.close();
  await allowed?.close();
  await foreign?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

function endpoint(over: Partial<Parameters<typeof createSlackServer>[0]> = {}): SlackServer {
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
  return createSlackServer({
    config,
    signingSecret: SECRET,
    sg: new ShipgateClient(new Client({ connection })),
    audit: createJsonlAuditStore(path.join(home, 'audit.jsonl')),
    logger: pino({ level: 'silent' }),
    ...over,
  });
}

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

describe('the endpoint posts replies only to an allowed response_url (real endpoint, stand-ins over real HTTP)', () => {
  let server: SlackServer;
  let url: string;
  beforeAll(async () => {
    server = endpoint();
    url = (await server.listen(0)).url;
  });
  afterAll(() => server?.close());

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

describe('the endpoint refuses what Slack did not send before reading its body (real socket)', () => {
  let server: SlackServer;
  let url: string;
  beforeAll(async () => {
    server = endpoint({ bodyTimeoutMs: 300 });
    url = (await server.listen(0)).url;
  });
  afterAll(() => server?.close());

  const now = () => Math.floor(Date.now() / 1000);
  const head = (headers: Record<string, string>, length: number) => [
    `POST /slack/events HTTP/1.1`,
    `Host: ${new URL(url).host}`,
    'Content-Type: application/x-www-form-urlencoded',
    `Content-Length: ${length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  const wellFormed = (ts = now()) => ({
    'X-Slack-Request-Timestamp': String(ts),
    'X-Slack-Signature': `v0=${'a'.repeat(64)}`,
  });

  it('answers a client that sends headers and then stalls its body: missing or stale headers 401, malformed 400', async () => {
    const cases: [string, Record<string, string>, number][] = [
      ['no headers', {}, 401],
      ['no signature', { 'X-Slack-Request-Timestamp': String(now()) }, 401],
      ['no timestamp', { 'X-Slack-Signature': `v0=${'a'.repeat(64)}` }, 401],
      ['malformed timestamp', { ...wellFormed(), 'X-Slack-Request-Timestamp': '12abc' }, 400],
      ['malformed signature', { ...wellFormed(), 'X-Slack-Signature': 'v0=xyz' }, 400],
      ['timestamp 6 min old', wellFormed(now() - 6 * 60), 401],
      ['timestamp 6 min ahead', wellFormed(now() + 6 * 60), 401],
    ];
    for (const [what, headers, status] of cases) {
      // The body is announced (4 KiB) but never sent: only an answer that does not wait for it arrives.
      const r = await rawExchange(url, head(headers, 4096), 'payload=');
      expect(r.status, what).toBe(status);
      expect(r.text, what).toContain('invalid signature');
    }
  });

  it('answers 413 to a body over 64 KiB, declared or streamed, without reading it', async () => {
    const declared = await rawExchange(url, head(wellFormed(), MAX_BODY_BYTES + 1));
    expect(declared.status).toBe(413);
    const huge = interactionBody({ ...rollbackClick(allowed.responseUrl('huge')), pad: 'x'.repeat(100_000) });
    const streamed = await postToEndpoint(url, huge, { secret: SECRET, chunked: true });
    expect(streamed.status).toBe(413);
    const sent = await postToEndpoint(url, huge, { secret: SECRET });
    expect(sent.status).toBe(413);
  });

  it('answers 408 when a well-formed request’s body does not arrive in time, and closes the connection', async () => {
    const r = await rawExchange(url, head(wellFormed(), 100), 'payload=%7B');
    expect(r.status).toBe(408);
  });

  it('refuses the same signed request twice (409), and a signature over another body (401)', async () => {
    const body = interactionBody(rollbackClick(allowed.responseUrl('replay')));
    const ts = now();
    const signature = slackSignature(SECRET, ts, body);
    const first = await postToEndpoint(url, body, { timestamp: ts, signature });
    expect(first.status).toBe(200);
    const again = await postToEndpoint(url, body, { timestamp: ts, signature });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: 'request already received' });
    const other = await postToEndpoint(url, `${body}&x=1`, { timestamp: ts, signature });
    expect(other.status).toBe(401);
    await server.idle();
  });
});

describe('the endpoint bounds its connections (real sockets)', () => {
  it('holds at most maxConnections slow clients, closes the rest at once, and serves again once they are gone', async () => {
    const limit = 8;
    // Headers may take a minute here, so only the connection limit can close a connection during the test.
    const server = endpoint({ maxConnections: limit, headersTimeoutMs: 60_000 });
    const { url } = await server.listen(0);
    const slow = Array.from({ length: 5 * limit }, () => slowConnection(url));
    try {
      // Every connection past the limit is closed by the server; waiting for exactly that many closes.
      let closes = 0;
      await new Promise<void>((resolve) => {
        for (const c of slow)
          void c.closed.then(() => {
            if (++closes === slow.length - limit) resolve();
          });
      });
      expect(await server.connections()).toBe(limit);
      expect(slow.filter((c) => !c.isClosed())).toHaveLength(limit);

      for (const c of slow) c.destroy();
      await Promise.all(slow.map((c) => c.closed));
      while ((await server.connections()) > 0) await new Promise((r) => setImmediate(r));
      const r = await postToEndpoint(url, interactionBody(rollbackClick(allowed.responseUrl('after'))), {
        secret: SECRET,
      });
      expect(r.status).toBe(200);
      await server.idle();
    } finally {
      for (const c of slow) c.destroy();
      await server.close();
    }
  });
});

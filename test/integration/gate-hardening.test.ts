import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  checkExternalGate,
  GATE_MAX_BODY_BYTES,
  type ExternalGate,
} from '../../src/activities/external-gate.js';
import { createGateActivities } from '../../src/activities/gate.js';
import { validateConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import type { GateResolver } from '../../src/policy/gate-url.js';

/** Text a hostile or compromised status page might send; none of it may reach a failure text. */
const MARKER = 'FETCHED-7f3a <!channel> https://evil.example/x \u001b]8;;https://evil.example\u0007';

/** What the status page stand-in answers on each path (real HTTP on loopback). */
const pages: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void> = {
  '/ok': (_req, res) => json(res, { status: { indicator: 'none' } }),
  '/incident': (_req, res) => json(res, { status: { indicator: MARKER } }),
  '/html': (_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<html>${MARKER}</html>`);
  },
  '/503': (_req, res) => {
    res.statusCode = 503;
    res.statusMessage = 'Down FETCHED-7f3a';
    res.setHeader('x-detail', 'FETCHED-7f3a');
    res.end(MARKER);
  },
  '/redirect-metadata': (_req, res) => {
    res.statusCode = 302;
    res.setHeader('location', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/');
    res.end();
  },
  '/declared-huge': (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', String(GATE_MAX_BODY_BYTES + 1));
    res.write('{"status":{"indicator":"none"},"pad":"');
    // Never finishes: the gate must give up on the declared length alone.
  },
};

function json(res: http.ServerResponse, body: unknown) {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

const listen = async (server: net.Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
};

const gate = (url: string, extra: Partial<ExternalGate> = {}): ExternalGate => ({
  name: 'statuspage',
  url,
  field: 'status.indicator',
  equals: 'none',
  interval: 1000,
  timeout: 60_000,
  allowPrivateNetwork: false,
  ...extra,
});

describe('external gate hardening (real HTTP and HTTPS servers on loopback)', () => {
  let page: http.Server;
  let base = '';
  const hits: string[] = [];
  /** A second server a redirect points at: it must never be asked. */
  let elsewhere: http.Server;
  let elsewhereUrl = '';
  let elsewhereHits = 0;
  /** A raw TCP listener: any connection at all (gopher:, ftp:) would show here. */
  let raw: net.Server;
  let rawPort = 0;
  let rawConnections = 0;
  /** An endless chunked body; records when the gate hangs up. */
  let endless: http.Server;
  let endlessUrl = '';
  let endlessClosed: Promise<number>;
  let tls: https.Server;
  let tlsPort = 0;
  let tlsCa = '';
  let tlsHosts: string[] = [];
  let dir = '';

  beforeAll(async () => {
    page = http.createServer((req, res) => {
      hits.push(`${req.headers.host} ${req.url}`);
      (pages[new URL(req.url ?? '/', 'http://x').pathname] ?? ((_q, r) => ((r.statusCode = 404), r.end())))(
        req,
        res,
      );
    });
    base = `http://127.0.0.1:${await listen(page)}`;
    elsewhere = http.createServer((_req, res) => {
      elsewhereHits++;
      json(res, { status: { indicator: 'none' } });
    });
    elsewhereUrl = `http://127.0.0.1:${await listen(elsewhere)}/ok`;
    pages['/redirect-loopback'] = (_req, res) => {
      res.statusCode = 301;
      res.setHeader('location', elsewhereUrl);
      res.end();
    };
    raw = net.createServer((socket) => {
      rawConnections++;
      socket.destroy();
    });
    rawPort = await listen(raw);
    let closed: (written: number) => void;
    endlessClosed = new Promise((r) => (closed = r));
    endless = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      let written = 0;
      const chunk = Buffer.alloc(64 * 1024, 'a');
      res.write('{"pad":"');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => closed(written));
      pump();
    });
    endlessUrl = `http://127.0.0.1:${await listen(endless)}/status.json`;

    // A real certificate for status.corp.test, made here; the gate trusts it through the `ca` option.
    dir = mkdtempSync(path.join(os.tmpdir(), 'gate-tls-'));
    const made = spawnSync('openssl', [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1'],
      ...['-subj', '/CN=status.corp.test', '-addext', 'subjectAltName=DNS:status.corp.test'],
    ]);
    expect(made.status, made.stderr.toString()).toBe(0);
    tlsCa = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    tls = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: tlsCa }, (req, res) => {
      tlsHosts.push(req.headers.host ?? '');
      json(res, { status: { indicator: 'none' } });
    });
    tlsPort = await listen(tls);
  });

  afterAll(() => {
    for (const s of [page, elsewhere, endless, tls]) {
      s?.closeAllConnections();
      s?.close();
    }
    raw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes a healthy loopback page over plain http, as before', async () => {
    expect(await checkExternalGate(gate(`${base}/ok`))).toBeNull();
  });

  it.each([
    ['data:', 'data:application/json,{"status":{"indicator":"none"}}', 'scheme data: is not allowed'],
    ['file:', 'file:///etc/hostname', 'scheme file: is not allowed'],
    ['gopher:', 'gopher://127.0.0.1:RAW/_FLUSHALL', 'scheme gopher: is not allowed'],
    ['ftp:', 'ftp://127.0.0.1:RAW/status.json', 'scheme ftp: is not allowed'],
  ])('refuses a %s gate without opening anything (a data: gate used to pass)', async (_s, url, problem) => {
    const reason = await checkExternalGate(gate(url.replace('RAW', String(rawPort))));
    expect(reason).toContain(`gate statuspage: `);
    expect(reason).toContain(` refused: ${problem}`);
    expect(rawConnections).toBe(0);
  });

  it('refuses plain http to a host that is not loopback, before any lookup or connection', async () => {
    const asked: string[] = [];
    const resolve: GateResolver = async (host) => (asked.push(host), [{ address: '127.0.0.1', family: 4 }]);
    expect(await checkExternalGate(gate('http://status.example.com/api/v2/status.json'), { resolve })).toBe(
      'gate statuspage: http://status.example.com/api/v2/status.json refused: plain http: is allowed only to loopback (127.0.0.1, ::1, localhost); use https:',
    );
    expect(asked).toEqual([]);
  });

  it('refuses link-local and metadata addresses and names', async () => {
    expect(await checkExternalGate(gate('https://169.254.10.20/status'))).toBe(
      'gate statuspage: https://169.254.10.20/status refused: 169.254.10.20 is a link-local address',
    );
    expect(await checkExternalGate(gate('https://[fe80::1]/status'))).toBe(
      'gate statuspage: https://[fe80::1]/status refused: fe80::1 is a link-local address',
    );
    expect(
      await checkExternalGate(
        gate('https://169.254.169.254/latest/meta-data/', { allowPrivateNetwork: true }),
      ),
    ).toBe(
      'gate statuspage: https://169.254.169.254/latest/meta-data/ refused: 169.254.169.254 is a cloud metadata address',
    );
    expect(await checkExternalGate(gate('https://metadata.google.internal/computeMetadata/v1/'))).toBe(
      'gate statuspage: https://metadata.google.internal/computeMetadata/v1/ refused: metadata.google.internal is a cloud metadata address',
    );
    expect(await checkExternalGate(gate('https://[fd00:ec2::254]/latest/meta-data/'))).toBe(
      'gate statuspage: https://[fd00:ec2::254]/latest/meta-data/ refused: fd00:ec2::254 is a cloud metadata address',
    );
  });

  it('refuses a name whose DNS answer holds a private address, and reaches it over TLS only when the gate allows private networks', async () => {
    // The name answers a loopback address (the TLS server) and a private one: any forbidden one refuses.
    const resolve: GateResolver = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '10.9.8.7', family: 4 },
    ];
    const url = `https://status.corp.test:${tlsPort}/status.json`;
    expect(await checkExternalGate(gate(url), { resolve, ca: tlsCa })).toBe(
      `gate statuspage: ${url} refused: status.corp.test resolves to 10.9.8.7, a private address (set allowPrivateNetwork: true on the gate to allow it)`,
    );
    expect(tlsHosts).toEqual([]);
    expect(
      await checkExternalGate(gate(url, { allowPrivateNetwork: true }), { resolve, ca: tlsCa }),
    ).toBeNull();
    // The certificate was checked against the name, on a connection to the checked address.
    expect(tlsHosts).toEqual([`status.corp.test:${tlsPort}`]);
  });

  it('connects to the address it checked: a DNS answer that changes after the check (rebinding) is never asked for', async () => {
    let lookups = 0;
    const resolve: GateResolver = async () =>
      lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '169.254.169.254', family: 4 }];
    const url = `https://status.corp.test:${tlsPort}/status.json`;
    tlsHosts = [];
    expect(await checkExternalGate(gate(url), { resolve, ca: tlsCa })).toBeNull();
    expect(lookups).toBe(1);
    expect(tlsHosts).toEqual([`status.corp.test:${tlsPort}`]);

    // Same over plain http to localhost: one lookup, and the request goes where the checked answer said.
    lookups = 0;
    hits.length = 0;
    const port = (page.address() as AddressInfo).port;
    expect(await checkExternalGate(gate(`http://localhost:${port}/ok`), { resolve })).toBeNull();
    expect(lookups).toBe(1);
    expect(hits).toEqual([`localhost:${port} /ok`]);
  });

  it('refuses plain http to localhost when the name resolves off loopback', async () => {
    const resolve: GateResolver = async () => [{ address: '192.168.1.50', family: 4 }];
    expect(await checkExternalGate(gate('http://localhost:8080/status'), { resolve })).toBe(
      'gate statuspage: http://localhost:8080/status refused: localhost resolves to 192.168.1.50, which is not loopback; plain http: is allowed only to loopback',
    );
  });

  it('does not follow a redirect, to a forbidden address or anywhere else', async () => {
    expect(await checkExternalGate(gate(`${base}/redirect-metadata`))).toBe(
      `gate statuspage: ${base}/redirect-metadata answered 302 (redirects are not followed)`,
    );
    expect(await checkExternalGate(gate(`${base}/redirect-loopback`))).toBe(
      `gate statuspage: ${base}/redirect-loopback answered 301 (redirects are not followed)`,
    );
    expect(elsewhereHits).toBe(0);
  });

  it('caps the body: a declared oversize body is refused unread, an endless one is cut off at the cap', async () => {
    expect(await checkExternalGate(gate(`${base}/declared-huge`))).toBe(
      `gate statuspage: ${base}/declared-huge answered more than ${GATE_MAX_BODY_BYTES} bytes`,
    );
    expect(await checkExternalGate(gate(endlessUrl))).toBe(
      `gate statuspage: ${endlessUrl} answered more than ${GATE_MAX_BODY_BYTES} bytes`,
    );
    // The gate hung up; the server stopped writing long before a memory-sized amount.
    expect(await endlessClosed).toBeLessThan(64 * GATE_MAX_BODY_BYTES);
  });

  it('never echoes what the page answered: wrong value, non-JSON, error status, bad certificate', async () => {
    const reasons = [
      await checkExternalGate(gate(`${base}/incident`)),
      await checkExternalGate(gate(`${base}/html`)),
      await checkExternalGate(gate(`${base}/503`)),
      // The certificate names status.corp.test; another name on it fails without quoting the certificate.
      await checkExternalGate(gate(`https://other.corp.test:${tlsPort}/s`), {
        resolve: async () => [{ address: '127.0.0.1', family: 4 }],
        ca: tlsCa,
      }),
    ];
    expect(reasons).toEqual([
      'gate statuspage: status.indicator is not "none"',
      `gate statuspage: ${base}/html did not answer JSON`,
      `gate statuspage: ${base}/503 answered 503`,
      `gate statuspage: https://other.corp.test:${tlsPort}/s unreachable (ERR_TLS_CERT_ALTNAME_INVALID)`,
    ]);
    for (const reason of reasons) {
      expect(reason).not.toContain('FETCHED');
      expect(reason).not.toContain('status.corp.test');
      const controls = [...(reason ?? '')].filter(
        (ch) => ch.charCodeAt(0) < 0x20 || /[\u007f-\u009f]/.test(ch),
      );
      expect(controls).toEqual([]);
    }
  });

  it('keeps credentials and query strings of the gate URL out of failure texts', async () => {
    const port = (page.address() as AddressInfo).port;
    expect(await checkExternalGate(gate(`http://ops:s3cret@127.0.0.1:${port}/503?api_key=k3y`))).toBe(
      `gate statuspage: http://127.0.0.1:${port}/503 answered 503`,
    );
  });

  it('the deploy gate verdict (what status, Slack and job summaries show) holds without quoting the page', async () => {
    const loaded = validateConfig(
      {
        identity: 'asserted',
        apps: {
          hello: {
            build: { kind: 'local', source: '.' },
            environments: {
              production: {
                target: { kind: 'local', port: 19_999 },
                gates: [
                  { name: 'statuspage', url: `${base}/incident`, field: 'status.indicator', equals: 'none' },
                ],
              },
            },
          },
        },
      },
      path.join(process.cwd(), 'shipgate.yaml'),
    );
    // The client is never used: freezes are given, so nothing is read from Temporal.
    const { evaluateDeployGate } = createGateActivities(staticConfigSource(loaded), new Client());
    const verdict = await evaluateDeployGate({
      app: 'hello',
      env: 'production',
      overridden: false,
      freezes: [],
    });
    expect(verdict).toMatchObject({
      allowed: false,
      blockedBy: 'gate statuspage',
      kind: 'gate',
      reason: 'gate statuspage: status.indicator is not "none"',
    });
    expect(JSON.stringify(verdict)).not.toContain('FETCHED');
  });
});

import { describe, expect, it } from 'vitest';
import {
  checkGateUrl,
  classifyAddress,
  displayGateUrl,
  resolveGateTarget,
  type GateResolver,
  type ResolvedAddress,
} from '../../src/policy/gate-url.js';

/** A resolver with fixed answers that records what it was asked: stands in for DNS in a pure check. */
function resolverOf(answers: Record<string, string[]>) {
  const asked: string[] = [];
  const resolve: GateResolver = async (host) => {
    asked.push(host);
    return (answers[host] ?? []).map((address): ResolvedAddress => ({
      address,
      family: address.includes(':') ? 6 : 4,
    }));
  };
  return { resolve, asked };
}

describe('gate URL policy: scheme and literal host (config time)', () => {
  it.each([
    ['data:application/json,{"status":{"indicator":"none"}}', /scheme data: is not allowed/],
    ['file:///etc/passwd', /scheme file: is not allowed/],
    ['gopher://127.0.0.1:6379/_FLUSHALL', /scheme gopher: is not allowed/],
    ['ftp://status.example.com/status.json', /scheme ftp: is not allowed/],
    ['javascript:alert(1)', /scheme javascript: is not allowed/],
    ['ws://127.0.0.1:8080/', /scheme ws: is not allowed/],
  ])('refuses a scheme other than http(s): %s', (url, problem) => {
    expect(checkGateUrl(url)).toMatch(problem);
    expect(checkGateUrl(url, { allowPrivate: true })).toMatch(problem);
  });

  it('refuses text that is not a URL', () => {
    expect(checkGateUrl('status page')).toBe('not a valid URL');
  });

  it.each([
    'http://status.example.com/api/v2/status.json',
    'http://8.8.8.8/status',
    'http://10.0.0.5/status',
    'http://[2606:4700::1111]/status',
  ])('refuses plain http to a host that is not loopback, private or not: %s', (url) => {
    const problem = /plain http: is allowed only to loopback/;
    expect(checkGateUrl(url)).toMatch(problem);
    expect(checkGateUrl(url, { allowPrivate: true })).toMatch(problem);
  });

  it.each([
    'http://127.0.0.1:8080/status.json',
    'http://127.1.2.3/status.json',
    'http://[::1]:9000/status.json',
    'http://localhost:3000/status',
    'http://LOCALHOST./status',
    'http://status.localhost/status',
    'https://www.githubstatus.com/api/v2/status.json',
    'https://8.8.8.8/status',
    'https://user:secret@status.example.com/status?key=1',
  ])('accepts https: off loopback and http: on loopback: %s', (url) => {
    expect(checkGateUrl(url)).toBeNull();
  });

  it.each([
    ['https://169.254.1.1/status', '169.254.1.1 is a link-local address'],
    ['https://[fe80::1]/status', 'fe80::1 is a link-local address'],
    ['https://[febf:ffff::1]/status', 'febf:ffff::1 is a link-local address'],
  ])('refuses a link-local literal, even with private networks allowed: %s', (url, problem) => {
    expect(checkGateUrl(url)).toBe(problem);
    expect(checkGateUrl(url, { allowPrivate: true })).toBe(problem);
  });

  it.each([
    'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
    // The URL parser normalises other spellings of the same address; the check sees the normalised host.
    'https://0xa9.0xfe.0xa9.0xfe/latest/meta-data/',
    'https://2852039166/latest/meta-data/',
    'https://[::ffff:169.254.169.254]/latest/meta-data/',
    'https://[64:ff9b::a9fe:a9fe]/latest/meta-data/',
    'https://[fd00:ec2::254]/latest/meta-data/',
    'https://169.254.170.2/v2/credentials',
    'https://100.100.100.200/latest/meta-data/',
    'https://metadata.google.internal/computeMetadata/v1/',
    'https://METADATA.google.internal./computeMetadata/v1/',
    'https://metadata.goog/computeMetadata/v1/',
  ])('refuses a cloud metadata address or name, even with private networks allowed: %s', (url) => {
    expect(checkGateUrl(url)).toMatch(/is a cloud metadata address$/);
    expect(checkGateUrl(url, { allowPrivate: true })).toMatch(/is a cloud metadata address$/);
  });

  it.each([
    'https://10.1.2.3/status',
    'https://172.16.0.1/status',
    'https://172.31.255.255/status',
    'https://192.168.1.10/status',
    'https://100.64.0.1/status',
    'https://[fd12:3456::1]/status',
    'https://[::ffff:10.0.0.1]/status',
  ])('refuses a private literal unless the gate allows private networks: %s', (url) => {
    expect(checkGateUrl(url)).toMatch(
      /is a private address \(set allowPrivateNetwork: true on the gate to allow it\)$/,
    );
    expect(checkGateUrl(url, { allowPrivate: true })).toBeNull();
  });

  it.each([
    'https://0.0.0.0/status',
    'https://[::]/status',
    'https://224.0.0.1/status',
    'https://255.255.255.255/status',
    'https://[ff02::1]/status',
    'https://192.0.2.1/status',
    'https://[2001:db8::1]/status',
  ])('refuses an unspecified, multicast or documentation address: %s', (url) => {
    expect(checkGateUrl(url, { allowPrivate: true })).toMatch(/is a special-purpose address/);
  });

  it('classifies addresses, including IPv4 inside IPv6 forms', () => {
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('::ffff:127.0.0.1')).toBe('loopback');
    expect(classifyAddress('1.1.1.1')).toBe('public');
    expect(classifyAddress('2606:4700::1111')).toBe('public');
    expect(classifyAddress('2002:a9fe:a9fe::1')).toBe('metadata');
    expect(classifyAddress('2002:0a00:0001::1')).toBe('private');
    expect(classifyAddress('fe80::1%eth0')).toBe('link-local');
    expect(classifyAddress('172.32.0.1')).toBe('public');
    expect(classifyAddress('status.example.com')).toBeNull();
    expect(classifyAddress('1.2.3')).toBeNull();
    expect(classifyAddress('1:2:3:4:5:6:7:8:9')).toBeNull();
    expect(classifyAddress('1::2::3')).toBeNull();
  });

  it('shows a URL in failure texts without its credentials, query or fragment', () => {
    expect(displayGateUrl('https://user:secret@status.example.com:8443/api/status.json?token=abc#x')).toBe(
      'https://status.example.com:8443/api/status.json',
    );
  });
});

describe('gate URL policy: resolved addresses (the resolver is injected)', () => {
  it('refuses a name that resolves to a private address unless private networks are allowed', async () => {
    const { resolve } = resolverOf({ 'status.corp.example': ['10.20.30.40'] });
    expect(await resolveGateTarget('https://status.corp.example/status', {}, resolve)).toEqual({
      ok: false,
      problem:
        'status.corp.example resolves to 10.20.30.40, a private address (set allowPrivateNetwork: true on the gate to allow it)',
    });
    expect(
      await resolveGateTarget('https://status.corp.example/status', { allowPrivate: true }, resolve),
    ).toMatchObject({
      ok: true,
      host: 'status.corp.example',
      addresses: [{ address: '10.20.30.40', family: 4 }],
    });
  });

  it('refuses a name when any one of its addresses is forbidden, since a connection may use any of them', async () => {
    const { resolve } = resolverOf({ 'status.example.com': ['93.184.215.14', '169.254.169.254'] });
    expect(await resolveGateTarget('https://status.example.com/s', { allowPrivate: true }, resolve)).toEqual({
      ok: false,
      problem: 'status.example.com resolves to 169.254.169.254, a cloud metadata address',
    });
  });

  it('refuses a name that resolves to link-local over IPv6, or to nothing', async () => {
    const { resolve } = resolverOf({ 'v6.example.com': ['2606:4700::1', 'fe80::abcd'] });
    expect(await resolveGateTarget('https://v6.example.com/', {}, resolve)).toEqual({
      ok: false,
      problem: 'v6.example.com resolves to fe80::abcd, a link-local address',
    });
    expect(await resolveGateTarget('https://nothing.example.com/', {}, resolve)).toEqual({
      ok: false,
      problem: 'nothing.example.com resolves to no address',
    });
  });

  it('refuses plain http when localhost resolves off loopback', async () => {
    const { resolve } = resolverOf({ localhost: ['127.0.0.1', '192.168.0.7'] });
    expect(await resolveGateTarget('http://localhost:8080/', { allowPrivate: true }, resolve)).toEqual({
      ok: false,
      problem:
        'localhost resolves to 192.168.0.7, which is not loopback; plain http: is allowed only to loopback',
    });
  });

  it('accepts a public name and returns the addresses it checked, for the connection to use', async () => {
    const { resolve, asked } = resolverOf({
      'www.githubstatus.com': ['185.199.108.153', '2606:50c0:8000::153'],
    });
    expect(
      await resolveGateTarget('https://www.githubstatus.com/api/v2/status.json', {}, resolve),
    ).toMatchObject({
      ok: true,
      addresses: [
        { address: '185.199.108.153', family: 4 },
        { address: '2606:50c0:8000::153', family: 6 },
      ],
    });
    expect(asked).toEqual(['www.githubstatus.com']);
  });

  it('does not resolve an IP literal or a URL already refused', async () => {
    const { resolve, asked } = resolverOf({});
    expect(await resolveGateTarget('https://[2606:4700::1111]/s', {}, resolve)).toMatchObject({
      ok: true,
      addresses: [{ address: '2606:4700::1111', family: 6 }],
    });
    expect(await resolveGateTarget('file:///etc/passwd', {}, resolve)).toMatchObject({ ok: false });
    expect(asked).toEqual([]);
  });
});

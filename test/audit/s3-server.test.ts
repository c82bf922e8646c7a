/**
 * scripts/s3-server.sh itself: versitygw on a free loopback port, over real HTTP. It writes DIR/env as the test
 * beds promise, enforces the credentials it wrote, stops exactly what it started, and comes back after `down`
 * with its port, credentials and objects (an outage and its recovery).
 */
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ROOT } from '../helpers/processes.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';

let a: S3Server;
let b: S3Server;

beforeAll(async () => {
  [a, b] = await Promise.all([startS3Server(), startS3Server()]);
}, 600_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** Running, not merely a zombie waiting for init to reap it. */
const alive = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
};
const pidOf = async (s: S3Server) => Number(await readFile(path.join(s.dir, 'pid'), 'utf8'));

describe('scripts/s3-server.sh (versitygw over real HTTP)', () => {
  it('writes DIR/env with a loopback endpoint and credentials, readable only by its owner', async () => {
    expect(Object.keys(a.env).sort()).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_ENDPOINT_URL',
      'AWS_REGION',
      'AWS_SECRET_ACCESS_KEY',
    ]);
    expect(a.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.endpoint).not.toBe(b.endpoint);
    expect(a.secretAccessKey).not.toBe(b.secretAccessKey);
    expect((await stat(path.join(a.dir, 'env'))).mode & 0o077).toBe(0);
    // The script's output is sourceable as it stands.
    const sourced = spawnSync('bash', ['-c', `. '${a.dir}/env' && echo "$AWS_ENDPOINT_URL $AWS_REGION"`], {
      encoding: 'utf8',
    });
    expect(sourced.stdout.trim()).toBe(`${a.endpoint} ${a.region}`);
  });

  it('answers only requests signed with its credentials', async () => {
    expect((await fetch(`${a.endpoint}/`)).status).toBe(403);
    await expect(a.client().send(new ListBucketsCommand({}))).resolves.toBeTruthy();
    await expect(
      a
        .client({ credentials: { accessKeyId: a.accessKeyId, secretAccessKey: b.secretAccessKey } })
        .send(new ListBucketsCommand({})),
    ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
  });

  it('down stops its own server only; up brings it back on the same port with its objects', async () => {
    await a.createBucket('kept', { objectLock: true });
    await a.client().send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'still here' }));
    const pidA = await pidOf(a);
    const pidB = await pidOf(b);
    await a.down();
    expect(await alive(pidA)).toBe(false);
    await expect(fetch(`${a.endpoint}/`)).rejects.toThrow();
    // The other server, started by the same script, is untouched.
    expect(await alive(pidB)).toBe(true);
    expect((await fetch(`${b.endpoint}/`)).status).toBe(403);
    await a.up();
    const got = await a.client().send(new GetObjectCommand({ Bucket: 'kept', Key: 'k' }));
    expect(await got.Body?.transformToString()).toBe('still here');
  });

  it('refuses a second up on a running directory, and down twice is harmless', async () => {
    const script = path.join(ROOT, 'scripts', 's3-server.sh');
    const again = spawnSync('bash', [script, 'up', b.dir], { encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`a server is already up in ${b.dir}`);
    expect((await fetch(`${b.endpoint}/`)).status).toBe(403);
    expect(spawnSync('bash', [script, 'down', path.join(b.dir, 'never-started')]).status).toBe(0);
  });
});

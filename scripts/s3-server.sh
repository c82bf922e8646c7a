#!/usr/bin/env bash
# A real S3-compatible server on loopback for tests and benchmarks: versitygw (posix backend, bucket versioning
# on), which enforces SigV4 credentials, Object Lock retention (COMPLIANCE and GOVERNANCE) and conditional
# writes (`If-None-Match: *` answers 412 once the key exists, atomically, even between concurrent writers).
#
#   scripts/s3-server.sh build      install versitygw once (Go module proxy, cached outside the repository,
#                                   keyed by version); prints the binary's path
#   scripts/s3-server.sh up DIR     start a server on a free loopback port; exits 0 once it answers S3 requests.
#                                   Writes DIR/env (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                                   AWS_REGION, as `export K='V'` lines), DIR/pid, DIR/log; objects live in DIR/data.
#                                   `up` again after `down` reuses the port, the credentials and the objects: an
#                                   outage and a recovery of the same server.
#   scripts/s3-server.sh down DIR   stop exactly the process DIR/pid records (the objects stay in DIR)
#
# Knobs: S3_SERVER_CACHE (cache root, default ${XDG_CACHE_HOME:-~/.cache}/shipgate), S3_SERVER_NO_BUILD=1 (`up`
# fails instead of building), S3_SERVER_TIMEOUT (seconds to wait for readiness, default 30).
set -euo pipefail

VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0
CACHE_ROOT=${S3_SERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipgate}
CACHE=$CACHE_ROOT/versitygw-$VERSITYGW_VERSION
BIN=$CACHE/bin/versitygw
TIMEOUT=${S3_SERVER_TIMEOUT:-30}
REGION=us-east-1

log() { echo "[s3-server $(date -u +%T)] $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

build() {
  [[ -x $BIN ]] && return 0
  mkdir -p "$CACHE_ROOT"
  # Two test files may start servers at once on a fresh machine: one builds, the other waits for it.
  exec 9>"$CACHE_ROOT/versitygw.lock"
  flock 9
  if [[ ! -x $BIN ]]; then
    local go t0=$SECONDS
    go=$(command -v go || echo /usr/local/go/bin/go)
    [[ -x $go ]] || die "go is needed to install versitygw $VERSITYGW_VERSION (not found on PATH or in /usr/local/go/bin)"
    log "go install $VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION into $CACHE (once; a few minutes)"
    rm -rf "$CACHE.partial"
    mkdir -p "$CACHE.partial/bin"
    GOBIN="$CACHE.partial/bin" GOFLAGS=-buildvcs=false nice -n 10 "$go" install \
      "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION" >&2 || die "go install versitygw failed"
    rm -rf "$CACHE" && mv "$CACHE.partial" "$CACHE"
    log "versitygw built in $((SECONDS - t0))s"
  fi
  flock -u 9
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A pid is ours when it is alive and its command line names this DIR's data directory.
ours() {
  local pid=$1 dir=$2
  [[ -n $pid && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/data"
}

# Random printable credentials, made once per DIR so a restarted server accepts the same ones.
random_token() { head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-"$1"; }

up() {
  local dir=$1 port pid code attempt reuse=0
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ -f $dir/pid ]] && ours "$(cat "$dir/pid")" "$dir"; then die "a server is already up in $dir (pid $(cat "$dir/pid"))"; fi
  if [[ ${S3_SERVER_NO_BUILD:-} == 1 && ! -x $BIN ]]; then
    die "versitygw $VERSITYGW_VERSION is not installed; run scripts/s3-server.sh build (or scripts/setup.sh)"
  fi
  build
  mkdir -p "$dir/data" "$dir/versions"
  if [[ ! -f $dir/credentials ]]; then
    (umask 077 && printf '%s %s\n' "SG$(random_token 18)" "$(random_token 40)" >"$dir/credentials")
  fi
  local access secret
  read -r access secret <"$dir/credentials"
  [[ -f $dir/port ]] && reuse=1
  for attempt in 1 2 3 4 5; do
    if ((reuse)); then port=$(cat "$dir/port"); else port=$(free_port); fi
    # Credentials go in through the environment, never the command line (ps shows that to every user).
    ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
      setsid "$BIN" --port "127.0.0.1:$port" --region "$REGION" --quiet --keep-alive \
      posix --versioning-dir "$dir/versions" "$dir/data" </dev/null >>"$dir/log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    local deadline=$((SECONDS + TIMEOUT))
    code=000
    while ((SECONDS < deadline)); do
      kill -0 "$pid" 2>/dev/null || break
      # Anonymous requests are refused with 403: the server is up and checking signatures.
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/" || true)
      [[ $code == 403 ]] && break
      sleep 0.1
    done
    if [[ $code == 403 ]] && kill -0 "$pid" 2>/dev/null; then
      echo "$port" >"$dir/port"
      cat >"$dir/env" <<ENV
export AWS_ENDPOINT_URL='http://127.0.0.1:$port'
export AWS_ACCESS_KEY_ID='$access'
export AWS_SECRET_ACCESS_KEY='$secret'
export AWS_REGION='$REGION'
ENV
      chmod 600 "$dir/env"
      log "versitygw $VERSITYGW_VERSION up on 127.0.0.1:$port (pid $pid, objects in $dir/data)"
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    ((reuse)) && die "versitygw could not listen on 127.0.0.1:$port again (in use?); see $dir/log"
    log "attempt $attempt: versitygw did not come up on 127.0.0.1:$port; trying another port"
  done
  die "versitygw did not come up; see $dir/log"
}

down() {
  local dir=$1 pid
  [[ -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd)
  [[ -f $dir/pid ]] || return 0
  pid=$(cat "$dir/pid")
  if ours "$pid" "$dir"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      ours "$pid" "$dir" || break
      sleep 0.1
    done
    if ours "$pid" "$dir"; then kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped versitygw (pid $pid)"
  fi
  rm -f "$dir/pid"
}

case ${1:-} in
  build)
    build
    echo "$BIN"
    ;;
  up)
    [[ -n ${2:-} ]] || die "usage: $0 up DIR"
    up "$2"
    ;;
  down)
    [[ -n ${2:-} ]] || die "usage: $0 down DIR"
    down "$2"
    ;;
  *)
    echo "usage: $0 build | up DIR | down DIR" >&2
    exit 2
    ;;
esac

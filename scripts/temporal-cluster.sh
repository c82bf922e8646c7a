#!/usr/bin/env bash
# Temporal as a service on PostgreSQL, on loopback, without containers: the topology docker-compose.yml runs
# (same server version, same dynamic config file), for the cluster test tier, the chaos run and the scale bench.
#
#   scripts/temporal-cluster.sh build             build temporal-server and temporal-sql-tool once from the Go
#                                                 module go.temporal.io/server (cached outside the repository,
#                                                 keyed by version), copy its PostgreSQL schema; prints the cache
#   scripts/temporal-cluster.sh up DIR            initdb, start PostgreSQL, create both databases and schemas, start
#                                                 the server (all four services in one process), create the
#                                                 namespace and shipgate's search attributes; exits 0 once a
#                                                 workflow list answers. Writes DIR/env (`export K='V'` lines:
#                                                 TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_CLUSTER_PG_PORT ...)
#   scripts/temporal-cluster.sh restart DIR       stop the Temporal server (SIGTERM) and start it again, same ports
#   scripts/temporal-cluster.sh restart-postgres DIR   stop PostgreSQL (fast shutdown) and start it again
#   scripts/temporal-cluster.sh kill DIR          SIGKILL the Temporal server (a crash); `restart` brings it back
#   scripts/temporal-cluster.sh status DIR        which processes run, with memory
#   scripts/temporal-cluster.sh down DIR          stop exactly the processes DIR records (data stays in DIR)
#
# Facts this script is built on (docs/deploying.md has the rest):
# - Every port comes from 20000-32000, below the kernel's ephemeral range: the PostgreSQL schema stores ringpop
#   membership ports as SMALLINT, and a port above 32767 kills the server at start.
# - initdb and postgres refuse to run as root: as root they run as the `postgres` user (the Debian package makes it).
# - v1.32.0 builds with Go 1.26 (v1.32.2's go.mod needs go1.27); `go install module/cmd/x@version` builds with the
#   module's own go.sum, so the dependencies are exactly the ones Temporal released.
#
# Knobs: TEMPORAL_CLUSTER_CACHE (cache root, default ${XDG_CACHE_HOME:-~/.cache}/shipgate),
# TEMPORAL_CLUSTER_NO_BUILD=1 (`up` fails instead of building), TEMPORAL_CLUSTER_NAMESPACE (default `default`),
# TEMPORAL_CLUSTER_SEARCH_ATTRIBUTES=0 (leave them to the worker), TEMPORAL_CLUSTER_SHARDS (history shards, default 4),
# TEMPORAL_CLI (the `temporal` CLI; default .tools/venv/bin/temporal, then PATH).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPORAL_MODULE=go.temporal.io/server
# Keep in step with docker-compose.yml's temporalio/server and admin-tools tags (a unit test checks it).
TEMPORAL_VERSION=v1.32.0
CACHE_ROOT=${TEMPORAL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipgate}
CACHE=$CACHE_ROOT/temporal-server-$TEMPORAL_VERSION
DYNAMIC_CONFIG=$ROOT/deploy/temporal/dynamic-config.yaml
NAMESPACE=${TEMPORAL_CLUSTER_NAMESPACE:-default}
RETENTION=720h # docker-compose.yml's default
SHARDS=${TEMPORAL_CLUSTER_SHARDS:-4}
SEARCH_ATTRIBUTES=(ShipgateApp ShipgateEnv ShipgateVersion ShipgateStage ShipgateActor)

log() { echo "[temporal-cluster $(date -u +%T)] $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

go_bin() {
  local go
  go=$(command -v go || echo /usr/local/go/bin/go)
  [[ -x $go ]] || die "go is needed to build Temporal $TEMPORAL_VERSION (not found on PATH or in /usr/local/go/bin)"
  echo "$go"
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/postgres && -x $d/initdb ]] && { echo "$d"; return 0; }
  done
  die "PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/setup.sh installs Debian's postgresql)"
}

temporal_cli() {
  if [[ -n ${TEMPORAL_CLI:-} ]]; then echo "$TEMPORAL_CLI"; return; fi
  if [[ -x $ROOT/.tools/venv/bin/temporal ]]; then echo "$ROOT/.tools/venv/bin/temporal"; return; fi
  command -v temporal || die "the temporal CLI is missing (scripts/setup.sh installs it)"
}

# ------------------------------------------------------------------------------------------------ build

# The dynamic-config keys this server version knows (one per line), from its own source: a key it does not know is
# ignored without a warning, so the tests check deploy/temporal/dynamic-config.yaml against this list.
extract_keys() {
  local go dir
  go=$(go_bin)
  dir=$("$go" mod download -json "$TEMPORAL_MODULE@$TEMPORAL_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -f $dir/common/dynamicconfig/constants.go ]] || die "no dynamicconfig/constants.go in $dir"
  grep -oE '^[[:space:]]+"[a-z]+\.[A-Za-z0-9.]+",$' "$dir/common/dynamicconfig/constants.go" | tr -d ' \t",' |
    sort -u >"$1"
}

build() {
  if [[ -x $CACHE/bin/server && -x $CACHE/bin/sql && -d $CACHE/schema/postgresql/v12 ]]; then
    [[ -s $CACHE/dynamic-config-keys.txt ]] || extract_keys "$CACHE/dynamic-config-keys.txt"
    return 0
  fi
  mkdir -p "$CACHE_ROOT"
  # Two test files may bring clusters up at once on a fresh machine: one builds, the other waits for it.
  exec 9>"$CACHE_ROOT/temporal-server.lock"
  flock 9
  if [[ ! -x $CACHE/bin/server ]]; then
    local go t0=$SECONDS modcache
    go=$(go_bin)
    log "go install $TEMPORAL_MODULE/cmd/server and cmd/tools/sql @$TEMPORAL_VERSION into $CACHE (once; 5-15 minutes)"
    rm -rf "$CACHE.partial"
    mkdir -p "$CACHE.partial/bin"
    # -trimpath and -s -w: smaller binaries, nothing of this machine's paths in them.
    for cmd in server tools/sql; do
      GOBIN="$CACHE.partial/bin" GOFLAGS="-trimpath -buildvcs=false" nice -n 10 "$go" install -ldflags='-s -w' \
        "$TEMPORAL_MODULE/cmd/$cmd@$TEMPORAL_VERSION" >&2 || die "go install $TEMPORAL_MODULE/cmd/$cmd failed"
    done
    # The schema files come with the module; copy them so `up` does not depend on the Go module cache.
    modcache=$("$go" env GOMODCACHE)
    mkdir -p "$CACHE.partial/schema/postgresql"
    cp -r "$modcache/$TEMPORAL_MODULE@$TEMPORAL_VERSION/schema/postgresql/v12" "$CACHE.partial/schema/postgresql/"
    chmod -R u+w "$CACHE.partial/schema"
    extract_keys "$CACHE.partial/dynamic-config-keys.txt"
    rm -rf "$CACHE" && mv "$CACHE.partial" "$CACHE"
    log "Temporal $TEMPORAL_VERSION built in $((SECONDS - t0))s"
  fi
  flock -u 9
}

# ------------------------------------------------------------------------------------------------ helpers

# N distinct free loopback ports from 20000-32000 (see the header), held open together so they differ.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1]); out = []; held = []
while len(out) < n:
    p = random.randint(20000, 32000)
    if p in out:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close(); continue
    held.append(s); out.append(p)
print(" ".join(map(str, out)))
PY
}

# As root, initdb and postgres run as the `postgres` user.
as_pg() {
  if [[ $(id -u) == 0 ]]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

# A pid is ours when it is alive and its command line names this DIR (guards against pid reuse).
ours() {
  local pid=$1 dir=$2
  [[ -n $pid && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/"
}

wait_gone() { # PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

load_env() {
  [[ -f $1/env ]] || die "$1/env not found: not a temporal-cluster directory (run up first)"
  # shellcheck disable=SC1091
  . "$1/env"
}

rss_mib() { awk '/^VmRSS:/ { printf "%d MiB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# ------------------------------------------------------------------------------------------------ postgres

start_postgres() { # DIR PORT
  local dir=$1 port=$2 bindir i
  bindir=$(pg_bindir)
  local as=()
  [[ $(id -u) == 0 ]] && as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  setsid "${as[@]}" "$bindir/postgres" -D "$dir/pg/data" -p "$port" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir/pg" -c max_connections=300 \
    -c fsync=on -c shared_buffers=64MB >>"$dir/logs/postgres.log" 2>&1 </dev/null &
  echo $! >"$dir/postgres.pid"
  for ((i = 0; i < 300; i++)); do
    pg_isready -q -h 127.0.0.1 -p "$port" && return 0
    kill -0 "$(cat "$dir/postgres.pid")" 2>/dev/null || { tail -n 20 "$dir/logs/postgres.log" >&2; die "postgres exited"; }
    sleep 0.1
  done
  die "postgres not ready after 30 s; log: $dir/logs/postgres.log"
}

stop_postgres() { # DIR
  local pid
  pid=$(cat "$1/postgres.pid" 2>/dev/null || true)
  ours "$pid" "$1" || return 0
  kill -INT "$pid" # fast shutdown: rolls back open transactions, checkpoints, exits
  wait_gone "$pid" 60 || { log "postgres $pid still up after 60 s: SIGQUIT"; kill -QUIT "$pid" || true; wait_gone "$pid" 10 || true; }
}

# ------------------------------------------------------------------------------------------------ temporal

start_temporal() { # DIR
  local dir=$1 i
  setsid "$CACHE/bin/server" --config-file "$dir/temporal/config.yaml" --allow-no-auth start \
    >>"$dir/logs/temporal.log" 2>&1 </dev/null &
  echo $! >"$dir/temporal.pid"
  for ((i = 0; i < 240; i++)); do
    kill -0 "$(cat "$dir/temporal.pid")" 2>/dev/null ||
      { tail -n 30 "$dir/logs/temporal.log" >&2; die "temporal-server exited; log: $dir/logs/temporal.log"; }
    "$CLI" operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING && return 0
    sleep 0.25
  done
  die "temporal-server not SERVING after 60 s; log: $dir/logs/temporal.log"
}

stop_temporal() { # DIR [SIGNAL]
  local pid
  pid=$(cat "$1/temporal.pid" 2>/dev/null || true)
  ours "$pid" "$1" || return 0
  kill "-${2:-TERM}" "$pid"
  wait_gone "$pid" 30 || { log "temporal-server $pid ignored SIGTERM for 30 s: SIGKILL"; kill -KILL "$pid" || true; wait_gone "$pid" 5 || true; }
}

# Until the namespace answers a list: a new namespace reaches the frontend's cache on its next refresh.
wait_namespace() {
  local i
  for ((i = 0; i < 240; i++)); do
    "$CLI" workflow list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --limit 1 >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  die "namespace $NAMESPACE not usable after 60 s"
}

write_server_config() { # DIR PGPORT PGPASS FE_GRPC FE_HTTP FE_MEMB HI_GRPC HI_MEMB MA_GRPC MA_MEMB WO_GRPC WO_MEMB
  local dir=$1 pg=$2 pass=$3
  local store
  store() {
    cat <<YAML
      sql:
        pluginName: postgres12
        databaseName: $1
        connectAddr: 127.0.0.1:$pg
        connectProtocol: tcp
        user: temporal
        password: $pass
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: 1h
YAML
  }
  {
    cat <<YAML
# Written by scripts/temporal-cluster.sh; template: the module's config/development-postgres12.yaml.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: $SHARDS
  datastores:
    postgres-default:
YAML
    store temporal 20
    echo "    postgres-visibility:"
    store temporal_visibility 10
    cat <<YAML
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    port: 0
services:
  frontend:
    rpc: { grpcPort: $4, httpPort: $5, membershipPort: $6, bindOnIP: 127.0.0.1 }
  history:
    rpc: { grpcPort: $7, membershipPort: $8, bindOnIP: 127.0.0.1 }
  matching:
    rpc: { grpcPort: $9, membershipPort: ${10}, bindOnIP: 127.0.0.1 }
  worker:
    rpc: { grpcPort: ${11}, membershipPort: ${12}, bindOnIP: 127.0.0.1 }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:$4
      httpAddress: 127.0.0.1:$5
dcRedirectionPolicy:
  policy: noop
publicClient:
  hostPort: 127.0.0.1:$4
dynamicConfigClient:
  filepath: $DYNAMIC_CONFIG
  pollInterval: 10s
YAML
  } >"$dir/temporal/config.yaml"
}

# ------------------------------------------------------------------------------------------------ commands

up() {
  local dir=$1 bindir i ports pass sql db kind
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ -e $dir/pg/data ]] && die "$dir already holds a cluster: use restart, or down and a new DIR"
  if [[ ${TEMPORAL_CLUSTER_NO_BUILD:-} == 1 && ! -x $CACHE/bin/server ]]; then
    die "Temporal $TEMPORAL_VERSION is not built; run scripts/temporal-cluster.sh build (or scripts/setup.sh)"
  fi
  build
  CLI=$(temporal_cli)
  bindir=$(pg_bindir)
  mkdir -p "$dir/pg" "$dir/temporal" "$dir/logs"
  # The postgres user must reach its data directory; nothing else under DIR is secret (the password is per DIR).
  chmod 755 "$dir" "$dir/pg"
  [[ $(id -u) == 0 ]] && chown postgres: "$dir/pg"
  as_pg test -w "$dir/pg" || die "the postgres user cannot write $dir/pg: put DIR where that user can reach it"

  read -r -a ports <<<"$(free_ports 11)"
  pass=$(head -c 32 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-24)
  local t0=$SECONDS
  (umask 077 && echo "$pass" >"$dir/pg/pwfile")
  [[ $(id -u) == 0 ]] && chown postgres: "$dir/pg/pwfile"
  as_pg "$bindir/initdb" -D "$dir/pg/data" -U temporal --pwfile="$dir/pg/pwfile" -A scram-sha-256 -E UTF8 \
    --no-locale --no-sync >"$dir/logs/initdb.log" 2>&1 || { cat "$dir/logs/initdb.log" >&2; die "initdb failed"; }
  rm -f "$dir/pg/pwfile"
  start_postgres "$dir" "${ports[0]}"
  log "postgres ready on 127.0.0.1:${ports[0]} ($((SECONDS - t0))s)"

  # What docker-compose.yml's temporal-schema job does.
  sql=("$CACHE/bin/sql" --plugin postgres12 --ep 127.0.0.1 -p "${ports[0]}" -u temporal --pw "$pass")
  for pair in temporal:temporal temporal_visibility:visibility; do
    db=${pair%%:*} kind=${pair#*:}
    { "${sql[@]}" --db "$db" create-database &&
      "${sql[@]}" --db "$db" setup-schema -v 0.0 &&
      "${sql[@]}" --db "$db" update-schema -d "$CACHE/schema/postgresql/v12/$kind/versioned"; } \
      >>"$dir/logs/schema.log" 2>&1 || { tail -n 20 "$dir/logs/schema.log" >&2; die "schema setup of $db failed"; }
  done
  log "schemas ready ($((SECONDS - t0))s)"

  write_server_config "$dir" "${ports[0]}" "$pass" "${ports[@]:1:10}"
  TEMPORAL_ADDRESS=127.0.0.1:${ports[1]}
  {
    echo "export TEMPORAL_ADDRESS='$TEMPORAL_ADDRESS'"
    echo "export TEMPORAL_NAMESPACE='$NAMESPACE'"
    echo "export TEMPORAL_CLUSTER_DIR='$dir'"
    echo "export TEMPORAL_CLUSTER_VERSION='$TEMPORAL_VERSION'"
    echo "export TEMPORAL_CLUSTER_HTTP='127.0.0.1:${ports[2]}'"
    echo "export TEMPORAL_CLUSTER_PG_PORT='${ports[0]}'"
  } >"$dir/env"
  start_temporal "$dir"
  log "temporal-server SERVING on $TEMPORAL_ADDRESS ($((SECONDS - t0))s)"

  # What docker-compose.yml's temporal-namespace job does, plus the search attributes (the worker can too).
  "$CLI" operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1 ||
    "$CLI" operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION" >/dev/null
  wait_namespace
  if [[ ${TEMPORAL_CLUSTER_SEARCH_ATTRIBUTES:-1} != 0 ]]; then
    local args=()
    for n in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--name "$n" --type Keyword); done
    "$CLI" operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" "${args[@]}" \
      >/dev/null 2>>"$dir/logs/cli.log" || die "could not create search attributes; see $dir/logs/cli.log"
  fi
  log "ready in $((SECONDS - t0))s: namespace $NAMESPACE on $TEMPORAL_ADDRESS (postgres $(cat "$dir/postgres.pid"), temporal-server $(cat "$dir/temporal.pid"))"
  cat "$dir/env"
}

cmd=${1:-}
case $cmd in
build)
  build
  echo "$CACHE"
  ;;
up)
  up "${2:?usage: $0 up DIR}"
  ;;
restart)
  dir=$(cd "${2:?usage: $0 restart DIR}" && pwd)
  load_env "$dir"
  CLI=$(temporal_cli)
  stop_temporal "$dir"
  start_temporal "$dir"
  wait_namespace
  log "temporal-server $(cat "$dir/temporal.pid") SERVING again on $TEMPORAL_ADDRESS"
  ;;
kill)
  dir=$(cd "${2:?usage: $0 kill DIR}" && pwd)
  stop_temporal "$dir" KILL
  ;;
restart-postgres)
  dir=$(cd "${2:?usage: $0 restart-postgres DIR}" && pwd)
  load_env "$dir"
  stop_postgres "$dir"
  start_postgres "$dir" "$TEMPORAL_CLUSTER_PG_PORT"
  log "postgres $(cat "$dir/postgres.pid") ready again on 127.0.0.1:$TEMPORAL_CLUSTER_PG_PORT"
  ;;
status)
  dir=$(cd "${2:?usage: $0 status DIR}" && pwd)
  for p in temporal postgres; do
    pid=$(cat "$dir/$p.pid" 2>/dev/null || true)
    if ours "$pid" "$dir"; then echo "$p $pid up ($(rss_mib "$pid"))"; else echo "$p down"; fi
  done
  ;;
down)
  dir=$(cd "${2:?usage: $0 down DIR}" && pwd)
  stop_temporal "$dir"
  stop_postgres "$dir"
  log "stopped what $dir records"
  ;;
*)
  sed -n '2,26p' "$0" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tests and benchmarks, without containers: etcd,
# kube-apiserver (client certificates, RBAC, service-account tokens), kube-controller-manager, kube-scheduler,
# and kwok playing the kubelet for one fake node, so pods become Running/Ready (no container ever runs).
#
#   scripts/kube-plane.sh build      build tools/kube-plane once (cached outside the repository, keyed by
#                                    version and source hash); prints the cache directory
#   scripts/kube-plane.sh up DIR     start a plane; exits 0 only once the node is Ready, the default
#                                    ServiceAccount exists and the Gateway API CRDs are Established.
#                                    Writes DIR/kubeconfig (admin), DIR/env, DIR/bin/kubectl, DIR/pids, DIR/logs/
#   scripts/kube-plane.sh down DIR   stop exactly the processes DIR/pids records
#
# Knobs: KUBE_PLANE_CACHE (cache root, default ${XDG_CACHE_HOME:-~/.cache}/shipgate), KUBE_PLANE_NO_BUILD=1
# (`up` fails instead of building), KUBE_PLANE_TIMEOUT (seconds per readiness step, default 120).
# Pods annotated kwok.x-k8s.io/never-ready (any value), or with a container image whose reference contains
# `never-ready` (e.g. registry.example.com/app:2.0.0-never-ready), go Running but never Ready: a failed rollout
# on demand, by annotation or by deploying that one image.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/tools/kube-plane
K8S_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
# v1.7.0 declares go 1.27, which the Go 1.26 toolchain refuses to extract; v1.6.3 is the newest it accepts.
GATEWAY_API_VERSION=v1.6.3
GATEWAY_API_SUM=h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc=
GATEWAY_API_CRDS=(gatewayclasses gateways httproutes referencegrants)
CACHE_ROOT=${KUBE_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipgate}
TIMEOUT=${KUBE_PLANE_TIMEOUT:-120}

log() { echo "[kube-plane $(date -u +%T)] $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# ------------------------------------------------------------------------------------------------ build

# kwok's own default fast stages (what kwokctl feeds kwok), from the pinned kwok module source, plus one
# opt-in stage: a pod annotated kwok.x-k8s.io/never-ready, or running an image whose reference contains
# `never-ready`, goes Running with Ready=False and stays so.
write_stages() {
  local src=$1/kustomize/stage f
  # A jq key kwok evaluates on the pod: it yields something (Exists) exactly for a never-ready pod. The image
  # form lets a test deploy one image that never becomes Ready, as a broken release would.
  local never='.metadata.annotations["kwok.x-k8s.io/never-ready"] // (.spec.containers[].image | select(. != null and contains("never-ready")))'
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f $src/$f ]] || die "kwok stage $f not found in $src"
    echo "---"
    if [[ $f == pod/fast/pod-ready.yaml ]]; then
      # The normal pod-ready stage must skip never-ready pods: add the exclusion after its first selector.
      awk -v key="$never" '{ print } /operator: .DoesNotExist./ && !done {
        print "    - key: '\''" key "'\''"
        print "      operator: '\''DoesNotExist'\''"; done = 1 }
        # A registry resolves a tag to a content digest and the kubelet reports it as imageID; kwok pulls
        # nothing, so it reports a digest derived from the reference (stable per image, as with a registry).
        /^      - image: \{\{ \.image \| Quote \}\}$/ && !digest {
          print "        imageID: {{ printf \"%s@sha256:%s\" .image (sha256sum .image) | Quote }}"; digest = 1 }' "$src/$f"
    else
      cat "$src/$f"
    fi
  done
  cat <<YAML
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-running-never-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '$never'
      operator: 'Exists'
YAML
  cat <<'YAML'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
YAML
}

# The cache directory for this exact source: the pinned module files, the Gateway API pin and the stage
# generator all go into the key, so editing any of them builds afresh instead of reusing a stale binary.
cache_dir() {
  local key
  key=$({
    cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go"
    echo "gateway-api $GATEWAY_API_VERSION $GATEWAY_API_SUM ${GATEWAY_API_CRDS[*]}"
    declare -f write_stages
  } | sha256sum | cut -c1-12)
  echo "$CACHE_ROOT/kube-plane-$K8S_VERSION-$key"
}

built() { [[ -x $1/kube-plane && -f $1/kwok-stages.yaml && -d $1/crds ]]; }

build() {
  local dir tmp t0 ldf kwok_dir gw_json gw_dir gw_sum c
  dir=$(cache_dir)
  if built "$dir"; then
    echo "$dir"
    return 0
  fi
  command -v go >/dev/null || die "Go is needed to build the control plane (go 1.26 or newer on PATH)"
  mkdir -p "$CACHE_ROOT"
  # One builder at a time: a second caller waits here and then finds the finished directory.
  exec 9>"$CACHE_ROOT/kube-plane.lock"
  if ! flock -n 9; then
    log "another build of $dir is running; waiting for it"
    flock 9
  fi
  if built "$dir"; then
    exec 9>&-
    echo "$dir"
    return 0
  fi
  t0=$(now)
  tmp=$dir.partial.$$
  rm -rf "$tmp"
  mkdir -p "$tmp/crds"
  log "building kube-plane $K8S_VERSION (kwok $KWOK_VERSION) into $dir; a cold build takes about 20 min"
  ldf="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  ldf+=" -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean"
  ldf+=" -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"
  ldf+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1"
  ldf+=" -X k8s.io/client-go/pkg/version.gitMinor=37 -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  (cd "$SRC" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags="$ldf" -o "$tmp/kube-plane" .) ||
    { rm -rf "$tmp"; die "go build of tools/kube-plane failed"; }
  log "linked kube-plane ($(elapsed "$t0"))"

  kwok_dir=$(cd "$SRC" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  write_stages "$kwok_dir" >"$tmp/kwok-stages.yaml"

  # The Gateway API CRDs, from the module proxy, checked against the pinned hash (and the checksum database).
  gw_json=$(cd "$tmp" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION") ||
    { rm -rf "$tmp"; die "go mod download sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION failed: $gw_json"; }
  gw_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$gw_json")
  gw_sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$gw_json")
  [[ $gw_sum == "$GATEWAY_API_SUM" ]] ||
    { rm -rf "$tmp"; die "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION hash $gw_sum, expected $GATEWAY_API_SUM"; }
  for c in "${GATEWAY_API_CRDS[@]}"; do
    cp "$gw_dir/config/crd/standard/gateway.networking.k8s.io_$c.yaml" "$tmp/crds/" ||
      { rm -rf "$tmp"; die "Gateway API CRD $c missing in $gw_dir"; }
  done
  chmod -R u+w "$tmp"

  rm -rf "$dir"
  mv -T "$tmp" "$dir"
  exec 9>&-
  log "build done in $(elapsed "$t0"): $dir"
  echo "$dir"
}

# ------------------------------------------------------------------------------------------------ down

# Only a recorded PID whose command line still names DIR is signalled: a PID reused by an unrelated
# process after the plane died is left alone.
ours() {
  local pid=$1 dir=$2 state
  [[ -r /proc/$pid/cmdline ]] || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/"
}

stop_pids() { # DIR PID...
  local dir=$1 pid alive i
  shift
  for pid in "$@"; do ours "$pid" "$dir" && kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 1 30); do
    alive=0
    for pid in "$@"; do ours "$pid" "$dir" && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  # The plane's state is throwaway: whatever has not exited after 3 s is killed.
  for pid in "$@"; do
    if ours "$pid" "$dir"; then
      log "pid $pid did not stop on SIGTERM; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for i in $(seq 1 50); do
    alive=0
    for pid in "$@"; do ours "$pid" "$dir" && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  return 1
}

down() {
  local dir=$1 t0
  [[ -f $dir/pids ]] || return 0
  t0=$(now)
  # etcd last: the apiserver shuts down slowly once its storage is gone.
  # shellcheck disable=SC2046
  stop_pids "$dir" $(awk '$1 != "etcd" { print $2 }' "$dir/pids") || die "processes of $dir still running"
  # shellcheck disable=SC2046
  stop_pids "$dir" $(awk '$1 == "etcd" { print $2 }' "$dir/pids") || die "etcd of $dir still running"
  rm -f "$dir/pids"
  log "stopped the plane in $dir ($(elapsed "$t0"))"
}

# ------------------------------------------------------------------------------------------------ up

# Free loopback ports below the kernel's ephemeral range (outgoing connections cannot take them between
# the check and the bind); a collision with another plane is caught by the retry in `up`.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
out, socks = [], []
while len(out) < int(sys.argv[1]):
    p = random.randint(10000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    socks.append(s)
    out.append(p)
print(" ".join(map(str, out)))
PY
}

make_pki() { # DIR
  local p=$1/pki
  mkdir -p "$p"
  (
    cd "$p"
    # ECDSA P-256 throughout: key generation is instant, where six RSA keys take a second on a busy machine.
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
    key ca
    openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=kube-plane-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
    cert() { # NAME SUBJECT EXTENSIONS
      key "$1"
      openssl req -new -key "$1.key" -out "$1.csr" -subj "$2"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 \
        -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    cert apiserver "/CN=kube-apiserver" "$(printf '%s\n' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local')"
    local client
    client=$(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=clientAuth')
    cert admin "/O=system:masters/CN=kube-plane-admin" "$client"
    cert controller-manager "/CN=system:kube-controller-manager" "$client"
    cert scheduler "/CN=system:kube-scheduler" "$client"
    cert kwok "/O=system:masters/CN=kwok-controller" "$client"
    key sa
    openssl pkey -in sa.key -pubout -out sa.pub
  ) || die "certificate generation with openssl failed"
}

write_kubeconfig() { # FILE USER API
  local p=$DIR/pki
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kube-plane
  cluster:
    server: $3
    certificate-authority-data: $(base64 -w0 <"$p/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$p/$2.crt")
    client-key-data: $(base64 -w0 <"$p/$2.key")
contexts:
- name: kube-plane
  context: {cluster: kube-plane, user: $2, namespace: default}
current-context: kube-plane
EOF
}

start() { # NAME CMD...: own session, so `down` signals exactly this PID
  local name=$1
  shift
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
}

wait_for() { # DESC CMD...: polls CMD, failing fast with the log of a component that died
  local desc=$1 end=$((SECONDS + TIMEOUT)) n p
  shift
  until "$@" >/dev/null 2>&1; do
    while read -r n p; do
      if ! kill -0 "$p" 2>/dev/null || [[ $(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) == Z ]]; then
        tail -n 25 "$DIR/logs/$n.log" >&2
        die "$n exited while waiting for $desc (log: $DIR/logs/$n.log)"
      fi
    done <"$DIR/pids"
    ((SECONDS < end)) || die "timed out after ${TIMEOUT}s waiting for $desc (logs: $DIR/logs/)"
    sleep 0.1
  done
}

# The controllers a deploy meets (rollouts, Service endpoints, ServiceAccounts and their tokens, namespace
# deletion, owner-reference garbage collection, and node-lifecycle, which lifts the not-ready taint every new
# node is admitted with): starting all ~50 takes the controller-manager about 5 s.
KCM_CONTROLLERS=deployment-controller,replicaset-controller,endpoints-controller,endpointslice-controller
KCM_CONTROLLERS+=,node-lifecycle-controller
KCM_CONTROLLERS+=,serviceaccount-controller,serviceaccount-token-controller,namespace-controller
KCM_CONTROLLERS+=,garbage-collector-controller,pod-garbage-collector-controller
KCM_CONTROLLERS+=,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller

# One bring-up attempt, run as its own bash process so `set -e` holds throughout; `up` cleans up after it.
launch() {
  local etcd_port peer_port api_port kcm_port sched_port api k t0=$1 c
  read -r etcd_port peer_port api_port kcm_port sched_port <<<"$(free_ports 5)"
  api=https://127.0.0.1:$api_port
  k=("$BIN" kubectl --kubeconfig="$DIR/kubeconfig" --request-timeout=10s)
  write_kubeconfig "$DIR/kubeconfig" admin "$api"
  for c in controller-manager scheduler kwok; do write_kubeconfig "$DIR/$c.kubeconfig" "$c" "$api"; done
  curl_admin() { curl -sf --max-time 2 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "$@"; }

  start etcd "$BIN" etcd --name kube-plane --data-dir "$DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "kube-plane=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
  wait_for "etcd /health" curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"
  log "etcd up on :$etcd_port ($(elapsed "$t0"))"

  # --endpoint-reconciler-type=none: the default reconciler refuses a loopback advertise address.
  start kube-apiserver "$BIN" kube-apiserver --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --endpoint-reconciler-type=none --cert-dir="$DIR/pki/apiserver-selfsigned" \
    --tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
    --client-ca-file="$DIR/pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$DIR/pki/sa.pub" --service-account-signing-key-file="$DIR/pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --authorization-mode=RBAC --allow-privileged=true \
    --profiling=false --v=1
  wait_for "kube-apiserver /readyz" curl_admin "$api/readyz"
  log "kube-apiserver ready on :$api_port ($(elapsed "$t0"))"

  # The CRDs and the node need only the apiserver: register them while the controllers start.
  "${k[@]}" apply --server-side --field-manager=kube-plane -f "$CACHE/crds" >/dev/null
  "${k[@]}" apply --server-side --field-manager=kube-plane -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF

  start kube-controller-manager "$BIN" kube-controller-manager --kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --leader-elect=false \
    --use-service-account-credentials=true --service-account-private-key-file="$DIR/pki/sa.key" \
    --root-ca-file="$DIR/pki/ca.crt" --cluster-signing-cert-file="$DIR/pki/ca.crt" \
    --cluster-signing-key-file="$DIR/pki/ca.key" --service-cluster-ip-range=10.96.0.0/16 \
    --controllers="$KCM_CONTROLLERS" --profiling=false --v=1
  start kube-scheduler "$BIN" kube-scheduler --kubeconfig="$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/scheduler.kubeconfig" --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$sched_port" --leader-elect=false --profiling=false --v=1
  start kwok "$BIN" kwok --kubeconfig="$DIR/kwok.kubeconfig" --config="$CACHE/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr=10.244.0.0/16 --node-ip=10.240.0.1 --node-lease-duration-seconds=40

  wait_for "kube-controller-manager /healthz" curl -skf --max-time 2 "https://127.0.0.1:$kcm_port/healthz"
  wait_for "kube-scheduler /healthz" curl -skf --max-time 2 "https://127.0.0.1:$sched_port/healthz"
  log "controller-manager and scheduler healthy ($(elapsed "$t0"))"
  wait_for "node kwok-node-0 Ready" "${k[@]}" wait --for=condition=Ready node/kwok-node-0 --timeout=5s
  schedulable() {
    local node
    node=$(curl_admin "$api/api/v1/nodes/kwok-node-0") && [[ $node != *node.kubernetes.io/not-ready* ]]
  }
  wait_for "node kwok-node-0 schedulable (not-ready taint lifted)" schedulable
  # Pods are refused in a namespace until its default ServiceAccount exists.
  wait_for "the default ServiceAccount" curl_admin "$api/api/v1/namespaces/default/serviceaccounts/default"
  for c in "${GATEWAY_API_CRDS[@]}"; do
    wait_for "CRD $c.gateway.networking.k8s.io Established" \
      "${k[@]}" wait --for=condition=Established "crd/$c.gateway.networking.k8s.io" --timeout=5s
  done

  mkdir -p "$DIR/bin"
  cat >"$DIR/bin/kubectl" <<EOF
#!/bin/sh
# kubectl $K8S_VERSION for the plane in $DIR (the admin kubeconfig unless KUBECONFIG or --kubeconfig says otherwise)
KUBECONFIG=\${KUBECONFIG:-$DIR/kubeconfig} exec "$BIN" kubectl "\$@"
EOF
  chmod +x "$DIR/bin/kubectl"
  cat >"$DIR/env" <<EOF
export KUBECONFIG='$DIR/kubeconfig'
export KUBE_PLANE_DIR='$DIR'
export KUBE_PLANE_API='$api'
export KUBE_PLANE_BIN='$BIN'
export KUBE_PLANE_KUBECTL='$DIR/bin/kubectl'
export KUBE_PLANE_ETCD_PORT='$etcd_port'
EOF
}

up() {
  local attempt t0
  [[ -n ${DIR:-} ]] || die "usage: $0 up DIR"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  if [[ -f $DIR/pids ]]; then
    local n p
    while read -r n p; do ours "$p" "$DIR" && die "a plane is already running in $DIR ($n pid $p)"; done <"$DIR/pids"
  fi
  command -v openssl >/dev/null || die "openssl is needed"
  command -v curl >/dev/null || die "curl is needed"
  command -v python3 >/dev/null || die "python3 is needed"
  CACHE=$(cache_dir)
  if ! built "$CACHE"; then
    [[ -z ${KUBE_PLANE_NO_BUILD:-} ]] ||
      die "the control plane is not built ($CACHE missing): run 'bash scripts/kube-plane.sh build' once (a cold build takes about 20 min)"
    CACHE=$(build)
  fi
  BIN=$CACHE/kube-plane
  t0=$(now)
  rm -rf "$DIR/logs" "$DIR/etcd-data" "$DIR/pki" "$DIR/env" "$DIR/bin"
  mkdir -p "$DIR/logs"
  make_pki "$DIR"
  export DIR CACHE BIN TIMEOUT
  for attempt in 1 2 3; do
    : >"$DIR/pids"
    rm -rf "$DIR/etcd-data"
    if bash "${BASH_SOURCE[0]}" __launch "$t0"; then
      log "plane ready in $(elapsed "$t0") (node Ready, Gateway API CRDs Established): $DIR"
      echo "KUBECONFIG=$DIR/kubeconfig"
      return 0
    fi
    down "$DIR" || true
    # Another process took a port between the check and the bind: try again with fresh ports.
    if ((attempt < 3)) && grep -qs 'address already in use' "$DIR"/logs/*.log; then
      log "a port was taken meanwhile; retrying with new ports"
      continue
    fi
    break
  done
  die "bring-up failed; logs in $DIR/logs"
}

case ${1:-} in
build) build ;;
up)
  DIR=${2:-}
  up
  ;;
down)
  [[ -n ${2:-} ]] || die "usage: $0 down DIR"
  [[ -d $2 ]] || die "no such directory: $2"
  down "$(cd "$2" && pwd)"
  ;;
__launch)
  launch "$2"
  ;;
*)
  echo "usage: $0 build | up DIR | down DIR" >&2
  exit 2
  ;;
esac

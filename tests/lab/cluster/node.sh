#!/usr/bin/env bash
# The lab's one real node (called by cluster.sh; usable alone once the control plane is up).
#
#   tests/lab/cluster/node.sh up        start or repair: containerd, kubelet, kube-proxy, CoreDNS,
#                                       the local-path provisioner; import the images
#   tests/lab/cluster/node.sh down      stop them, remove pods, network and node state
#   tests/lab/cluster/node.sh status    each process and whether it is alive
#   tests/lab/cluster/node.sh images    (re)import images into containerd (see below)
#   tests/lab/cluster/node.sh policy up|down|status
#                                       only the NetworkPolicy controller (kube-router), see below
#
# Node "lab-node" (label stateshift.io/lab-node=real): kubelet (cgroup v1, cgroupfs) on its own
# containerd (Debian's, CRI plugin, runc), CNI from Debian's containernetworking-plugins
# (bridge + host-local + portmap + loopback) on bridge stateshift0 (10.244.0.0/24), kube-proxy in
# iptables mode (ClusterIP Services), CoreDNS as a host process on 10.244.0.1:53 (cluster.local,
# the pods' nameserver), and a `local-path` default StorageClass whose PVCs get hostPath PVs
# under $STATESHIFT_CACHE/lab/storage (local-path-provisioner.sh).
#
# Images are never pulled: the pause image is built from source (pause/main.go), and the images
# of tests/lab/docker/image-map.txt ("ALIAS TARGET" lines) are copied from the local Docker
# engine (`docker save TARGET | ctr import`) and tagged with their aliases, e.g.
# docker.io/library/postgres:18-alpine. Extra aliases: LAB_IMAGE_ALIASES="alias=target ...".
# LAB_IMPORT_IMAGES=0 skips the Docker images (only pause). Image store (kept across down, it
# is a cache): $STATESHIFT_CACHE/containerd.
#
# NetworkPolicies are enforced by kube-router's policy controller alone (--run-firewall=true
# --run-router=false --run-service-proxy=false; iptables + ipset from Debian), unless
# LAB_NETWORK_POLICY=0. 'down' (and 'policy down') removes every iptables chain and ipset it made.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

NODE_DIR="$LAB_DIR/node"
RUN_DIR="$STATESHIFT_RUN/lab"
CTRD_ROOT="$STATESHIFT_CACHE/containerd"          # images survive 'down' (a cache)
CTRD_STATE="$RUN_DIR/containerd"
CTRD_SOCK="$CTRD_STATE/containerd.sock"
PAUSE_IMAGE=docker.io/stateshift-lab/pause:3.10
DOCKER_DIR="$STATESHIFT_REPO/tests/lab/docker"
PROCS=(containerd kubelet kube-proxy coredns local-path-provisioner kube-router)
NETPOL="${LAB_NETWORK_POLICY:-1}"
NETPOL_MARK="$RUN_DIR/kube-router.enabled"       # present while enforcement is meant to be on

ctr_() { ctr --address "$CTRD_SOCK" -n k8s.io "$@"; }

# node_ip: the address of the interface holding the default route.
node_ip() {
  local ip
  ip=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}')
  [ -n "$ip" ] || ip=$(hostname -I 2>/dev/null | awk '{print $1}')
  [ -n "$ip" ] || die "cannot find this host's IP address (no default route?): the kubelet needs one for --node-ip"
  echo "$ip"
}

pidfile() { echo "$RUN_DIR/$1.pid"; }
proc_bin() {
  case "$1" in
    containerd) command -v containerd ;;
    local-path-provisioner) echo "$CLUSTER_DIR/local-path-provisioner.sh" ;;
    *) lab_bin "$1" ;;
  esac
}
proc_alive() { pid_alive "$(pidfile "$1")" "$(proc_bin "$1" 2>/dev/null || echo "$1")"; }

# proc_stale NAME: NAME's pidfile names a live process that runs another build of NAME's binary,
# e.g. the one in the cache directory of the key before a version or wrapper change.
proc_stale() {
  local f pid bin argv0
  f=$(pidfile "$1")
  [ -f "$f" ] && pid=$(cat "$f" 2>/dev/null) && proc_running "$pid" || return 1
  bin=$(proc_bin "$1" 2>/dev/null) || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)
  [ "$argv0" != "$bin" ] && [ "${argv0##*/}" = "${bin##*/}" ]
}

# start_proc NAME CMD...: start CMD in its own session, stdout/stderr to $LAB_LOGS/NAME.log.
start_proc() {
  local name=$1; shift
  if proc_alive "$name"; then return 0; fi
  if proc_stale "$name"; then
    log "$name: pid $(cat "$(pidfile "$name")") runs another build of it, restarting it with $1"
    stop_proc "$name"
  fi
  mkdir -p "$RUN_DIR" "$LAB_LOGS"
  log "starting $name (log: $LAB_LOGS/$name.log)"
  setsid "$@" >>"$LAB_LOGS/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$(pidfile "$name")"
  sleep 0.2
  # on a busy machine the child may not have exec'd NAME's binary yet: wait while it runs
  for _ in $(seq 1 50); do
    proc_alive "$name" && return 0
    proc_running "$pid" || break
    sleep 0.1
  done
  tail -n 20 "$LAB_LOGS/$name.log" | sed 's/^/    | /' >&2
  die "$name exited at once, or did not start $(proc_bin "$name") within 5 s: see $LAB_LOGS/$name.log"
}

stop_proc() {
  local name=$1 f pid
  f=$(pidfile "$name")
  if proc_alive "$name" || proc_stale "$name"; then
    pid=$(cat "$f")
    # The provisioner's watches run in its process group (setsid made it the leader).
    if [ "$name" = local-path-provisioner ]; then kill -- "-$pid" 2>/dev/null || true; fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do proc_running "$pid" || break; sleep 0.1; done
    ! proc_running "$pid" || kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# wait_for WHAT SECONDS CMD...: poll CMD every 0.5 s (WHAT names it for the reader).
wait_for() {
  local secs=$2 _i; shift 2
  for _i in $(seq 1 $((secs * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

# --- host prerequisites ------------------------------------------------------------------------
prepare_host() {
  apt_install containerd runc containernetworking-plugins iptables ipset conntrack iproute2 util-linux
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "no cgroup filesystem under /sys/fs/cgroup: the kubelet needs one"
  sysctl -qw net.ipv4.ip_forward=1 || die "cannot enable net.ipv4.ip_forward"
  if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then sysctl -qw net.bridge.bridge-nf-call-iptables=1 || true; fi
  mkdir -p "$NODE_DIR" "$RUN_DIR" "$LAB_LOGS" "$LAB_DIR/storage" "$CTRD_ROOT" "$CTRD_STATE"
}

# --- network: CNI bridge, masquerade and forward rules ---------------------------------------
setup_network() {
  local cni="$NODE_DIR/cni"
  mkdir -p "$cni/net.d" "$cni/ipam"
  sed -e "s#@BRIDGE@#$NODE_BRIDGE#g" -e "s#@SUBNET@#$NODE_POD_CIDR#g" -e "s#@GATEWAY@#$NODE_BRIDGE_IP#g" \
    -e "s#@IPAM_DIR@#$cni/ipam#g" "$CLUSTER_DIR/node/10-stateshift.conflist.in" >"$cni/net.d/10-stateshift.conflist"
  # The bridge exists before the first pod so that CoreDNS can listen on its address.
  if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$NODE_BRIDGE" type bridge || die "cannot create bridge $NODE_BRIDGE"
  fi
  grep -q "inet $NODE_BRIDGE_IP/" <<<"$(ip addr show dev "$NODE_BRIDGE")" || ip addr add "$NODE_BRIDGE_IP/${NODE_POD_CIDR#*/}" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # Our own chains: pod egress masquerade, and forwarding that Docker's FORWARD policy (DROP) blocks.
  iptables -w -t nat -N STATESHIFT-LAB-MASQ 2>/dev/null || true
  iptables -w -t nat -F STATESHIFT-LAB-MASQ
  iptables -w -t nat -A STATESHIFT-LAB-MASQ -s "$CLUSTER_CIDR" ! -d "$CLUSTER_CIDR" -j MASQUERADE
  iptables -w -t nat -C POSTROUTING -j STATESHIFT-LAB-MASQ 2>/dev/null || iptables -w -t nat -A POSTROUTING -j STATESHIFT-LAB-MASQ
  iptables -w -N STATESHIFT-LAB-FWD 2>/dev/null || true
  iptables -w -F STATESHIFT-LAB-FWD
  iptables -w -A STATESHIFT-LAB-FWD -s "$CLUSTER_CIDR" -j ACCEPT
  iptables -w -A STATESHIFT-LAB-FWD -d "$CLUSTER_CIDR" -j ACCEPT
  iptables -w -C FORWARD -j STATESHIFT-LAB-FWD 2>/dev/null || iptables -w -I FORWARD 1 -j STATESHIFT-LAB-FWD
}

teardown_network() {
  local ns
  # Pod network namespaces left by containerd (their veths go with them).
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true); do
    if grep -q "inet ${NODE_POD_CIDR%.*}\." <<<"$(ip netns exec "$ns" ip -4 addr 2>/dev/null)"; then ip netns delete "$ns" 2>/dev/null || true; fi
  done
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then ip link delete "$NODE_BRIDGE" 2>/dev/null || true; fi
  iptables -w -t nat -D POSTROUTING -j STATESHIFT-LAB-MASQ 2>/dev/null || true
  iptables -w -t nat -F STATESHIFT-LAB-MASQ 2>/dev/null || true
  iptables -w -t nat -X STATESHIFT-LAB-MASQ 2>/dev/null || true
  iptables -w -D FORWARD -j STATESHIFT-LAB-FWD 2>/dev/null || true
  iptables -w -F STATESHIFT-LAB-FWD 2>/dev/null || true
  iptables -w -X STATESHIFT-LAB-FWD 2>/dev/null || true
  # kube-proxy's KUBE-* chains, then the kubelet's (KUBE-FIREWALL, canaries).
  if [ -x "$(lab_path)/kube-proxy" ]; then "$(lab_path)/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  local t c
  for t in filter nat mangle; do
    iptables -w -t "$t" -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
    iptables -w -t "$t" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
    for c in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
      if iptables -w -t "$t" -F "$c" 2>/dev/null; then iptables -w -t "$t" -X "$c" 2>/dev/null || true; fi
    done
  done
}

# --- NetworkPolicy enforcement: kube-router's policy controller ------------------------------
# netpol_leftovers: the iptables rules and ipsets kube-router's policy controller makes.
netpol_leftovers() {
  { iptables-save -t filter 2>/dev/null | grep -E 'KUBE-ROUTER-|KUBE-POD-FW-|KUBE-NWPLCY-|kube-router netpol' || true
    ipset list -n 2>/dev/null | grep -E '^(KUBE-SRC-|KUBE-DST-|kube-router-)' || true; } | sed '/^$/d'
}

# shellcheck disable=SC2317  # called through wait_for
netpol_synced() { grep -qE -- '^-A FORWARD .*-j KUBE-ROUTER-FORWARD$' <<<"$(iptables-save -t filter)"; }

# shellcheck disable=SC2317  # called through wait_for
node_registered() { kc get node "$REAL_NODE_NAME" >/dev/null 2>&1; }

start_policy() {
  mkdir -p "$RUN_DIR"
  touch "$NETPOL_MARK"
  # kube-router looks its node up once at start and exits if the kubelet has not registered it yet
  wait_for "node $REAL_NODE_NAME registered" 60 node_registered \
    || die "node $REAL_NODE_NAME was not registered within 60s: see $LAB_LOGS/kubelet.log"
  start_proc kube-router "$(lab_bin kube-router)" --kubeconfig "$LAB_KUBECONFIG" \
    --run-firewall=true --run-router=false --run-service-proxy=false \
    --hostname-override "$REAL_NODE_NAME" --service-cluster-ip-range "$SERVICE_CIDR" \
    --enable-ipv4=true --enable-ipv6=false --health-port 0 --metrics-port 0 --v 1
  wait_for "kube-router's chains" 60 netpol_synced \
    || die "kube-router did not install its KUBE-ROUTER-FORWARD chain within 60s: see $LAB_LOGS/kube-router.log"
}

# stop_policy: stop kube-router, then remove all its policy controller made; returns 1, naming them,
# when a rule or an ipset survives. (kube-router v2.1.0's --cleanup-config is of no use here: it runs
# the policy controller's cleanup on an empty controller, which removes nothing, then panics in the
# service proxy's IPVS cleanup on this kernel without ip_vs.)
stop_policy() {
  local c t rules left
  rm -f "$NETPOL_MARK"
  stop_proc kube-router
  [ -n "$(netpol_leftovers)" ] || return 0
  for c in INPUT FORWARD OUTPUT; do
    rules=$(iptables-save -t filter)
    while t=$(grep -m1 -E "^-A $c .*-j KUBE-ROUTER-$c( |\$)" <<<"$rules"); do
      # shellcheck disable=SC2086  # the saved rule, word-split back into arguments
      eval "iptables -w -t filter ${t/-A /-D }" || break
      rules=$(iptables-save -t filter)
    done
  done
  for c in $(iptables-save -t filter | sed -n 's/^:\(KUBE-ROUTER-[^ ]*\|KUBE-POD-FW-[^ ]*\|KUBE-NWPLCY-[^ ]*\) .*/\1/p'); do
    iptables -w -t filter -F "$c" 2>/dev/null || true
  done
  for c in $(iptables-save -t filter | sed -n 's/^:\(KUBE-ROUTER-[^ ]*\|KUBE-POD-FW-[^ ]*\|KUBE-NWPLCY-[^ ]*\) .*/\1/p'); do
    iptables -w -t filter -X "$c" 2>/dev/null || true
  done
  for c in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-SRC-|KUBE-DST-|kube-router-)' || true); do
    ipset destroy "$c" 2>/dev/null || true
  done
  left=$(netpol_leftovers)
  [ -z "$left" ] && return 0
  log "kube-router's rules survived its cleanup: $(tr '\n' ' ' <<<"$left")"
  return 1
}

policy_status() {
  if proc_alive kube-router; then printf '%-26s %s\n' kube-router "alive (pid $(cat "$(pidfile kube-router)")), NetworkPolicies enforced"
  elif proc_stale kube-router; then
    printf '%-26s %s\n' kube-router "another build runs (pid $(cat "$(pidfile kube-router)")): 'node.sh policy up' restarts it"; return 1
  elif [ -f "$NETPOL_MARK" ]; then printf '%-26s %s\n' kube-router dead; return 1
  else printf '%-26s %s\n' kube-router "off (NetworkPolicies not enforced; LAB_NETWORK_POLICY=0 or 'node.sh policy down')"
  fi
}

cmd_policy() {
  case "${1:-}" in
    up) need_root "node.sh policy up"; api_ready || die "the API server does not answer: run 'tests/lab/cluster/cluster.sh up'"
        apt_install iptables ipset; start_policy; log "NetworkPolicies enforced by kube-router (log: $LAB_LOGS/kube-router.log)" ;;
    down) need_root "node.sh policy down"; stop_policy || die "removing kube-router's rules failed (listed above)"; log "kube-router stopped, its rules and ipsets removed" ;;
    status) policy_status ;;
    *) die "usage: node.sh policy up|down|status" ;;
  esac
}

# --- containerd ------------------------------------------------------------------------------
start_containerd() {
  sed -e "s#@ROOT@#$CTRD_ROOT#g" -e "s#@STATE@#$CTRD_STATE#g" -e "s#@SOCK@#$CTRD_SOCK#g" \
    -e "s#@PAUSE@#$PAUSE_IMAGE#g" -e "s#@CNI_CONF@#$NODE_DIR/cni/net.d#g" \
    "$CLUSTER_DIR/node/containerd.toml.in" >"$NODE_DIR/containerd.toml.new"
  if ! cmp -s "$NODE_DIR/containerd.toml.new" "$NODE_DIR/containerd.toml" && proc_alive containerd; then
    log "containerd's configuration changed: restarting it"
    stop_proc containerd
  fi
  mv -f "$NODE_DIR/containerd.toml.new" "$NODE_DIR/containerd.toml"
  start_proc containerd "$(proc_bin containerd)" --config "$NODE_DIR/containerd.toml"
  wait_for containerd 30 ctr_ version || die "containerd did not answer on $CTRD_SOCK within 30s: see $LAB_LOGS/containerd.log"
}

# --- images ----------------------------------------------------------------------------------
# normalize REF: the fully qualified name containerd's CRI uses (docker.io/library/x:tag).
normalize() {
  local r=$1 first=${1%%/*}
  case "$r" in *:*|*@*) ;; *) r="$r:latest" ;; esac
  if [ "$first" = "$1" ]; then r="docker.io/library/$r"
  else
    case "$first" in *.* | *:* | localhost) ;; *) r="docker.io/$r" ;; esac
  fi
  echo "$r"
}

# import_pause: an OCI archive holding only the pause binary, built without Docker.
import_pause() {
  grep -qx -- "$PAUSE_IMAGE" <<<"$(ctr_ images ls -q)" && return 0
  local d cfg man idx ldig cdig mdig
  d=$(mktemp -d "$NODE_DIR/pause.XXXXXX")
  mkdir -p "$d/rootfs" "$d/oci/blobs/sha256"
  cp "$(lab_bin pause)" "$d/rootfs/pause"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$d/rootfs" -cf "$d/layer.tar" pause
  ldig=$(sha256sum "$d/layer.tar" | cut -d' ' -f1); cp "$d/layer.tar" "$d/oci/blobs/sha256/$ldig"
  cfg=$(printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$ldig")
  cdig=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1); printf '%s' "$cfg" >"$d/oci/blobs/sha256/$cdig"
  man=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cdig" "${#cfg}" "$ldig" "$(stat -c %s "$d/layer.tar")")
  mdig=$(printf '%s' "$man" | sha256sum | cut -d' ' -f1); printf '%s' "$man" >"$d/oci/blobs/sha256/$mdig"
  idx=$(printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"3.10"}}]}' \
    "$mdig" "${#man}" "$PAUSE_IMAGE")
  printf '%s' "$idx" >"$d/oci/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci/oci-layout"
  tar -C "$d/oci" -cf "$d/pause.tar" . 
  ctr_ images import --snapshotter overlayfs "$d/pause.tar" >/dev/null || { rm -rf "$d"; die "importing the pause image into containerd failed"; }
  rm -rf "$d"
  log "imported $PAUSE_IMAGE (built from pause/main.go)"
}

# image_pairs: "alias target" lines from image-map.txt and LAB_IMAGE_ALIASES.
image_pairs() {
  local p
  if [ -f "$DOCKER_DIR/image-map.txt" ]; then
    sed -e 's/#.*//' "$DOCKER_DIR/image-map.txt" | awk 'NF >= 2 {print $1, $2}'
  fi
  for p in ${LAB_IMAGE_ALIASES:-}; do echo "${p%%=*} ${p#*=}"; done
}

import_docker_images() {
  local pairs targets t id stamp alias n=0
  pairs=$(image_pairs)
  [ -n "$pairs" ] || { log "no image-map.txt in $DOCKER_DIR and no LAB_IMAGE_ALIASES: no database images imported"; return 0; }
  targets=$(printf '%s\n' "$pairs" | awk '{print $2}' | sort -u)
  if ! docker info >/dev/null 2>&1; then
    [ -x "$DOCKER_DIR/engine.sh" ] || die "no Docker engine answers and $DOCKER_DIR/engine.sh is missing: the database images come from Docker"
    "$DOCKER_DIR/engine.sh" ensure
  fi
  for t in $targets; do
    if ! docker image inspect "$t" >/dev/null 2>&1; then
      [ -x "$DOCKER_DIR/images.sh" ] || die "image $t is not in Docker and $DOCKER_DIR/images.sh is missing"
      "$DOCKER_DIR/images.sh" build "$t" || die "building image $t failed (tests/lab/docker/images.sh build $t)"
    fi
    id=$(docker image inspect -f '{{.Id}}' "$t")
    stamp="$CTRD_ROOT/imported-$(echo "$t" | tr '/:' '__')"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$id" ] || ! grep -qx -- "$(normalize "$t")" <<<"$(ctr_ images ls -q)"; then
      log "importing $t into containerd (docker save | ctr import)"
      docker save "$t" | ctr_ images import --snapshotter overlayfs - >/dev/null \
        || die "importing $t into containerd failed (docker save $t | ctr -n k8s.io images import -)"
      echo "$id" >"$stamp"
      n=$((n + 1))
    fi
  done
  while read -r alias t; do
    [ -n "$alias" ] || continue
    if [ "$(ctr_ images ls "name==$(normalize "$alias")" -q 2>/dev/null)" = "" ] || [ "$n" -gt 0 ]; then
      ctr_ images tag --force "$(normalize "$t")" "$(normalize "$alias")" >/dev/null \
        || die "tagging $(normalize "$t") as $(normalize "$alias") in containerd failed"
    fi
  done <<<"$pairs"
  log "images: $(printf '%s\n' "$pairs" | wc -l) aliases ready in containerd ($n imported)"
}

cmd_images() {
  import_pause
  if [ "${LAB_IMPORT_IMAGES:-1}" = 1 ]; then import_docker_images; fi
}

# --- kubelet, kube-proxy, CoreDNS, provisioner ------------------------------------------------
# render TEMPLATE OUT: substitute the @VARS@ of the node templates. OUT is only rewritten when
# its content changes (kube-proxy exits when its configuration file is touched).
# A running process whose configuration changed is restarted (restart_if_changed NAME).
RENDER_CHANGED=0
render() {
  local tmp="$2.new"
  render_to "$1" "$tmp"
  if cmp -s "$tmp" "$2"; then rm -f "$tmp"; RENDER_CHANGED=0; else mv -f "$tmp" "$2"; RENDER_CHANGED=1; fi
}
restart_if_changed() {
  if [ "$RENDER_CHANGED" = 1 ] && proc_alive "$1"; then
    log "$1: configuration changed, restarting it"
    stop_proc "$1"
  fi
}
render_to() {
  sed -e "s#@NODE_DIR@#$NODE_DIR#g" -e "s#@LAB_DIR@#$LAB_DIR#g" -e "s#@KUBECONFIG@#$LAB_KUBECONFIG#g" \
    -e "s#@CA@#$KWOK_CLUSTER_DIR/pki/ca.crt#g" -e "s#@CTRD_SOCK@#$CTRD_SOCK#g" -e "s#@DNS_IP@#$NODE_BRIDGE_IP#g" \
    -e "s#@DOMAIN@#$CLUSTER_DOMAIN#g" -e "s#@POD_CIDR@#$NODE_POD_CIDR#g" -e "s#@CLUSTER_CIDR@#$CLUSTER_CIDR#g" \
    -e "s#@NODE_NAME@#$REAL_NODE_NAME#g" -e "s#@NODE_IP@#$(node_ip)#g" "$1" >"$2"
}

start_kubelet() {
  mkdir -p "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs"
  render "$CLUSTER_DIR/node/kubelet.yaml.in" "$NODE_DIR/kubelet.yaml"
  restart_if_changed kubelet
  start_proc kubelet "$(lab_bin kubelet)" --config "$NODE_DIR/kubelet.yaml" --kubeconfig "$LAB_KUBECONFIG" \
    --hostname-override "$REAL_NODE_NAME" --node-ip "$(node_ip)" --root-dir "$NODE_DIR/kubelet" \
    --cert-dir "$NODE_DIR/kubelet/pki" --oom-score-adj 0 --node-labels "stateshift.io/lab-node=real" --v 1
}

start_kube_proxy() {
  render "$CLUSTER_DIR/node/kube-proxy.yaml.in" "$NODE_DIR/kube-proxy.yaml"
  restart_if_changed kube-proxy
  start_proc kube-proxy "$(lab_bin kube-proxy)" --config "$NODE_DIR/kube-proxy.yaml"
}

start_coredns() {
  render "$CLUSTER_DIR/node/Corefile.in" "$NODE_DIR/Corefile"
  restart_if_changed coredns
  start_proc coredns "$(lab_bin coredns)" -conf "$NODE_DIR/Corefile"
  sed -e "s#@DNS_IP@#$NODE_BRIDGE_IP#g" -e "s#@DNS_SVC_IP@#$DNS_SERVICE_IP#g" "$CLUSTER_DIR/manifests/kube-dns.yaml.in" \
    | kc apply -f - >/dev/null || die "creating Service kube-system/kube-dns failed"
}

start_provisioner() {
  kc apply -f "$CLUSTER_DIR/manifests/local-path-storageclass.yaml" >/dev/null || die "creating StorageClass local-path failed"
  start_proc local-path-provisioner "$CLUSTER_DIR/local-path-provisioner.sh"
}

# shellcheck disable=SC2317  # called through wait_for
node_ready() {
  [ "$(kc get node "$REAL_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

cmd_up() {
  local t0=$SECONDS
  need_root "node.sh up"
  api_ready || die "the API server does not answer (kubeconfig $LAB_KUBECONFIG): run 'tests/lab/cluster/cluster.sh up'"
  prepare_host
  setup_network
  start_containerd
  cmd_images
  start_coredns
  start_kubelet
  start_kube_proxy
  start_provisioner
  if [ "$NETPOL" = 1 ]; then start_policy; else stop_policy || die "removing kube-router's rules failed (listed above)"; fi
  wait_for "node $REAL_NODE_NAME" 90 node_ready \
    || die "node $REAL_NODE_NAME is not Ready after 90s: see $LAB_LOGS/kubelet.log and 'kubectl describe node $REAL_NODE_NAME'"
  log "real node $REAL_NODE_NAME Ready ($((SECONDS - t0))s)"
}

# shim_pids: containerd-shim processes serving our containerd (their cmdline names our socket).
shim_pids() {
  local d
  for d in /proc/[0-9]*; do
    case "$(cat "$d/comm" 2>/dev/null)" in containerd-shim*) ;; *) continue ;; esac
    grep -qF -- "$CTRD_SOCK" <<<"$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" && echo "${d#/proc/}"
  done
  return 0
}

cmd_down() {
  local c
  # Containers outlive a dead containerd (their shims keep them): restart it to remove them.
  if ! proc_alive containerd && [ -n "$(shim_pids)" ] && [ -f "$NODE_DIR/containerd.toml" ]; then
    start_proc containerd "$(proc_bin containerd)" --config "$NODE_DIR/containerd.toml"
    wait_for containerd 30 ctr_ version || true
  fi
  stop_policy || true
  stop_proc local-path-provisioner
  stop_proc kubelet
  stop_proc kube-proxy
  stop_proc coredns
  # Remove every pod container while containerd still runs; images stay (they are a cache).
  if proc_alive containerd; then
    for c in $(ctr_ tasks ls -q 2>/dev/null || true); do ctr_ tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true; done
    sleep 0.5
    for c in $(ctr_ tasks ls -q 2>/dev/null || true); do ctr_ tasks delete -f "$c" >/dev/null 2>&1 || true; done
    for c in $(ctr_ containers ls -q 2>/dev/null || true); do ctr_ containers delete "$c" >/dev/null 2>&1 || true; done
  fi
  stop_proc containerd
  # Left-over mounts (kubelet volumes, containerd shm/rootfs) under our directories.
  awk '{print $2}' /proc/mounts | grep -E "^($NODE_DIR|$CTRD_STATE|$CTRD_ROOT/io\.containerd\.grpc\.v1\.cri|$CTRD_ROOT/io\.containerd\.runtime)" | sort -r \
    | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
  # containerd shims outlive containerd: end ours (their cmdline names our socket), by pid.
  local p
  for p in $(shim_pids); do kill -9 "$p" 2>/dev/null || true; done
  # Empty cgroups the kubelet made.
  find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods -depth -type d -exec rmdir {} + 2>/dev/null || true
  teardown_network
  rm -rf "$NODE_DIR" "$RUN_DIR" "$CTRD_STATE"
  # Pod/containers metadata lives in containerd's root: drop it, keep the image content.
  rm -rf "$CTRD_ROOT/io.containerd.grpc.v1.cri/sandboxes" "$CTRD_ROOT/io.containerd.grpc.v1.cri/containers"
}

cmd_status() {
  local p rc=0 s
  for p in "${PROCS[@]}"; do
    if [ "$p" = kube-router ]; then policy_status || rc=1; continue; fi
    if proc_alive "$p"; then s="alive (pid $(cat "$(pidfile "$p")"))"
    elif proc_stale "$p"; then s="another build runs (pid $(cat "$(pidfile "$p")")): 'node.sh up' restarts it"; rc=1
    else s="dead"; rc=1; fi
    printf '%-26s %s\n' "$p" "$s"
  done
  return "$rc"
}

case "${1:-}" in
  up) lab_lock; cmd_up ;;
  down) lab_lock; cmd_down ;;
  status) cmd_status ;;
  policy) shift; lab_lock; cmd_policy "$@" ;;
  images) need_root "node.sh images"; lab_lock; prepare_host; proc_alive containerd || start_containerd; cmd_images ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
exit 0

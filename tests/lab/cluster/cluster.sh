#!/usr/bin/env bash
# The lab's Kubernetes cluster, run as local processes.
#
#   tests/lab/cluster/cluster.sh up           start (or repair) everything; a no-op when all is up
#   tests/lab/cluster/cluster.sh down         stop everything and remove all cluster state
#   tests/lab/cluster/cluster.sh status       each component and whether it is alive (exit 0: all up)
#   tests/lab/cluster/cluster.sh kubeconfig   print the kubeconfig (also at $STATESHIFT_CACHE/lab/kubeconfig)
#   tests/lab/cluster/cluster.sh mem          resident memory (RSS) of the lab's processes and pods
#
# Control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
# kwok-controller, run by `kwokctl --runtime binary` from binaries that build.sh compiled.
# Nodes: $LAB_KWOK_NODES (default 2) fake kwok nodes (kwok-node-N, tainted
# kwok.x-k8s.io/node=fake:NoSchedule) and, unless LAB_REAL_NODE=0, one real node
# (lab-node: kubelet + containerd + CNI + kube-proxy + CoreDNS + local-path provisioner,
# see node.sh). Logs: $STATESHIFT_CACHE/lab/logs and $STATESHIFT_CACHE/lab/kwok/clusters/*/logs.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

REAL_NODE="${LAB_REAL_NODE:-1}"

kwok_components() { echo "etcd kube-apiserver kube-controller-manager kube-scheduler kwok-controller"; }

# forget_dead_pids: kwokctl takes a pid that still exists for a running component, and a
# zombie still exists; drop the pid files of dead or zombie components so kwokctl restarts them.
forget_dead_pids() {
  local f
  for f in "$KWOK_CLUSTER_DIR"/pids/*.pid; do
    [ -f "$f" ] || continue
    proc_running "$(cat "$f" 2>/dev/null)" || rm -f "$f"
  done
}

# component_states: "NAME STATUS" lines from kwokctl (Ready, NotReady, Stopped, ...).
component_states() { forget_dead_pids; kwokctl_ get components -o wide 2>/dev/null | awk 'NR > 1 {print $1, $2}'; }

control_plane_ready() {
  local states c
  [ -f "$KWOK_CLUSTER_DIR/kwok.yaml" ] || return 1
  states=$(component_states) || return 1
  for c in $(kwok_components); do
    grep -qx "$c Ready" <<<"$states" || return 1
  done
  api_ready
}

create_control_plane() {
  local pki="$KWOK_CLUSTER_DIR/pki" args=()
  args=(
    --runtime binary
    --kubeconfig "$LAB_KUBECONFIG"
    --kube-apiserver-binary "$(lab_bin kube-apiserver)"
    --kube-controller-manager-binary "$(lab_bin kube-controller-manager)"
    --kube-scheduler-binary "$(lab_bin kube-scheduler)"
    --etcd-binary "$(lab_bin etcd)"
    --kwok-controller-binary "$(lab_bin kwok)"
    --secure-port=true --kube-authorization=true --kube-admission=true
    --config "$LAB_DIR/kwokctl.yaml"
    --wait 120s
  )
  log "creating the control plane (kwokctl --runtime binary; logs: $KWOK_CLUSTER_DIR/logs)"
  mkdir -p "$KWOK_WORKDIR" "$LAB_LOGS"
  sed -e "s#@SERVICE_CIDR@#$SERVICE_CIDR#g" -e "s#@API_SERVICE_IP@#$API_SERVICE_IP#g" -e "s#@PKI@#$pki#g" "$CLUSTER_DIR/manifests/kwokctl.yaml.in" >"$LAB_DIR/kwokctl.yaml"
  if ! kwokctl_ create cluster "${args[@]}" >"$LAB_LOGS/kwokctl-create.log" 2>&1; then
    tail -n 25 "$LAB_LOGS/kwokctl-create.log" | sed 's/^/    | /' >&2
    die "kwokctl create cluster failed (full output: $LAB_LOGS/kwokctl-create.log; component logs: $KWOK_CLUSTER_DIR/logs). Run 'cluster.sh down' to clean up, then 'cluster.sh up' again."
  fi
}

# kwok_pid NAME: the pid kwokctl recorded for a component.
kwok_pid() { cat "$KWOK_CLUSTER_DIR/pids/$1.pid" 2>/dev/null || true; }

# repair_control_plane: restart what is dead. A stateless component that runs but is not Ready
# for 10s (e.g. a kube-apiserver still draining after SIGTERM) is killed first, because
# 'kwokctl start cluster' only starts components whose process is gone.
repair_control_plane() {
  local i c pid states
  for _ in 1 2 3; do
    states=$(component_states)
    # A kube-apiserver that is shutting down still counts as Ready for kwokctl.
    api_ready || states=${states/kube-apiserver Ready/kube-apiserver NotReady}
    if ! grep -q ' Stopped$' <<<"$states"; then
      # Nothing is dead: give NotReady components 10s, then kill the stateless ones.
      for i in $(seq 1 10); do
        control_plane_ready && return 0
        sleep 1
      done
      for c in kube-apiserver kube-controller-manager kube-scheduler kwok-controller; do
        grep -qx "$c NotReady" <<<"$states" || continue
        pid=$(kwok_pid "$c")
        if [ -n "$pid" ] && grep -qF "$c" "/proc/$pid/cmdline" 2>/dev/null; then
          log "control plane: $c runs but is not ready: killing it (pid $pid) to restart it"
          kill -9 "$pid" 2>/dev/null || true
          for i in $(seq 1 20); do proc_running "$pid" || break; sleep 0.1; done
        fi
      done
      states=$(component_states)
    fi
    log "control plane: starting stopped components ($(awk '$2 != "Ready" {printf "%s ", $1}' <<<"$states"))"
    kwokctl_ start cluster --timeout 30s >>"$LAB_LOGS/kwokctl-start.log" 2>&1 \
      || log "kwokctl start cluster failed (see $LAB_LOGS/kwokctl-start.log)"
    for i in $(seq 1 60); do
      control_plane_ready && return 0
      sleep 0.5
    done
  done
  component_states | sed 's/^/    /' >&2 || true
  log "control plane: not ready after 3 restart attempts (logs in $KWOK_CLUSTER_DIR/logs)"
  return 1
}

ensure_control_plane() {
  local i
  if [ -f "$KWOK_CLUSTER_DIR/kwok.yaml" ]; then
    # A create that was interrupted may not have written our kubeconfig yet.
    if [ ! -s "$LAB_KUBECONFIG" ]; then
      kwokctl_ get kubeconfig >"$LAB_KUBECONFIG.new" 2>/dev/null && [ -s "$LAB_KUBECONFIG.new" ] \
        && mv -f "$LAB_KUBECONFIG.new" "$LAB_KUBECONFIG" && chmod 600 "$LAB_KUBECONFIG"
      rm -f "$LAB_KUBECONFIG.new"
    fi
    if control_plane_ready; then
      log "control plane: all components ready"
    elif ! repair_control_plane; then
      # e.g. a cluster left stopped by another checkout whose recorded pids now belong to other processes
      log "control plane: removing it and creating it afresh"
      teardown_control_plane
    fi
  fi
  if [ -f "$KWOK_CLUSTER_DIR/kwok.yaml" ]; then
    if [ "$(cat "$LAB_DIR/kwokctl.yaml.created" 2>/dev/null)" != "$(control_plane_settings)" ]; then
      log "WARNING: the control plane was created with other settings (manifests/kwokctl.yaml.in or binaries changed): run 'cluster.sh down && cluster.sh up' to apply them"
    fi
    return 0
  fi
  # A half-created cluster (no kwok.yaml yet) is removed before creating it again.
  [ ! -d "$KWOK_CLUSTER_DIR" ] || teardown_control_plane
  control_plane_settings >"$LAB_DIR/kwokctl.yaml.created"
  create_control_plane
  for i in $(seq 1 120); do
    control_plane_ready && return 0
    sleep 0.5
  done
  component_states | sed 's/^/    /' >&2 || true
  die "the control plane did not become ready within 60s: see the logs in $KWOK_CLUSTER_DIR/logs"
}

# control_plane_settings: what the control plane was created from (template, binaries).
control_plane_settings() {
  printf '%s %s %s %s\n' "$(inputs_key "$CLUSTER_DIR/manifests/kwokctl.yaml.in")" \
    "$(component_dir kubernetes)" "$(component_dir etcd)" "$(component_dir kwok)"
}

# flatten_kubeconfig: embed the CA and client certificate, so the file works on its own
# (copied into a container, read by kubernetes.core). Mode 0600: it holds the admin key.
flatten_kubeconfig() {
  grep -q 'certificate-authority-data:' "$LAB_KUBECONFIG" 2>/dev/null && return 0
  kc config view --raw --flatten >"$LAB_KUBECONFIG.new" || die "kubectl config view --flatten of $LAB_KUBECONFIG failed"
  chmod 600 "$LAB_KUBECONFIG.new"
  mv -f "$LAB_KUBECONFIG.new" "$LAB_KUBECONFIG"
}

ensure_kwok_nodes() {
  local i docs=""
  for i in $(seq 0 $((KWOK_NODES - 1))); do
    docs+=$(sed "s/@NAME@/kwok-node-$i/g" "$CLUSTER_DIR/manifests/kwok-node.yaml.in")$'\n---\n'
  done
  [ -n "$docs" ] || return 0
  printf '%s' "$docs" | kc apply -f - >/dev/null || die "creating the kwok nodes failed (kubectl apply of manifests/kwok-node.yaml.in)"
  log "kwok nodes: $(kc get nodes -l type=kwok -o name | tr '\n' ' ')"
}

teardown_control_plane() {
  if [ -d "$KWOK_CLUSTER_DIR" ] && [ -x "$(lab_path)/kwokctl" ]; then
    kwokctl_ delete cluster --kubeconfig "$LAB_KUBECONFIG" >"$LAB_LOGS/kwokctl-delete.log" 2>&1 \
      || log "kwokctl delete cluster failed (see $LAB_LOGS/kwokctl-delete.log); killing leftovers by pid"
  fi
  # Whatever kwokctl left (e.g. after a half-failed create): kill by pid file, never by name.
  local f pid
  for f in "$KWOK_CLUSTER_DIR"/pids/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -qF "$STATESHIFT_CACHE/bin/" "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$KWOK_CLUSTER_DIR"
}

cmd_up() {
  local t0=$SECONDS
  need_root "cluster.sh up"
  "$CLUSTER_DIR/build.sh" >&2
  mkdir -p "$LAB_DIR" "$LAB_LOGS"
  ensure_control_plane
  flatten_kubeconfig
  ensure_kwok_nodes
  kc apply -f "$CLUSTER_DIR/manifests/never-pull.yaml" >/dev/null \
    || die "applying manifests/never-pull.yaml (MutatingAdmissionPolicy) failed: is the control plane from an older kwokctl.yaml.in? run 'cluster.sh down && cluster.sh up'"
  kc apply -f "$CLUSTER_DIR/manifests/cilium-crds.yaml" >/dev/null \
    || die "applying manifests/cilium-crds.yaml (Cilium's policy CRDs) failed"
  # server-side: the CRD is larger than the annotation a client-side apply keeps
  kc apply --server-side --force-conflicts -f "$(cnpg_crd_file)" >/dev/null \
    || die "applying CloudNativePG's Cluster CRD ($(cnpg_crd_file)) failed"
  if [ "$REAL_NODE" = 1 ]; then
    "$CLUSTER_DIR/node.sh" up
  fi
  log "cluster up in $((SECONDS - t0))s; KUBECONFIG=$LAB_KUBECONFIG"
}

cmd_down() {
  need_root "cluster.sh down"
  mkdir -p "$LAB_LOGS"
  if [ -x "$CLUSTER_DIR/node.sh" ]; then "$CLUSTER_DIR/node.sh" down; fi
  teardown_control_plane
  # Only the cluster's own state: the legacy host's keys, password and inventory stay.
  rm -rf "$LAB_KUBECONFIG" "$KWOK_WORKDIR" "$LAB_DIR"/kwokctl.yaml* "$LAB_DIR/node" "$LAB_DIR/storage"
  log "cluster down: removed the cluster's state under $LAB_DIR"
}

cmd_status() {
  local rc=0 states c s
  if [ ! -d "$KWOK_CLUSTER_DIR" ]; then
    echo "cluster: not created (run: tests/lab/cluster/cluster.sh up)"
    return 3
  fi
  states=$(component_states || true)
  for c in $(kwok_components); do
    s=$(printf '%s\n' "$states" | awk -v c="$c" '$1 == c {print $2}')
    [ "$s" = Ready ] || rc=1
    printf '%-26s %s\n' "$c" "${s:-missing}"
  done
  if api_ready; then echo "api: ready ($(awk '/server:/ {print $2; exit}' "$LAB_KUBECONFIG"))"; else echo "api: not answering"; rc=1; fi
  if [ "$REAL_NODE" = 1 ]; then "$CLUSTER_DIR/node.sh" status || rc=1; fi
  if api_ready; then kc get nodes -o wide 2>/dev/null | cut -c1-110 || true; fi
  return "$rc"
}

# cmd_mem: resident memory of every lab process and its descendants (pods included).
cmd_mem() {
  local roots="" f d
  for f in "$KWOK_CLUSTER_DIR"/pids/*.pid "$STATESHIFT_RUN"/lab/*.pid; do
    [ -f "$f" ] && roots+=" $(cat "$f")"
  done
  for d in /proc/[0-9]*; do
    case "$(cat "$d/comm" 2>/dev/null)" in containerd-shim*) ;; *) continue ;; esac
    grep -qF -- "$STATESHIFT_RUN/lab/containerd" <<<"$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" && roots+=" ${d#/proc/}"
  done
  [ -n "$roots" ] || { echo "no lab process runs"; return 0; }
  ps -eo pid=,ppid=,rss=,comm= | awk -v roots="$roots" '
    { rss[$1] = $3; comm[$1] = $4; kids[$2] = kids[$2] " " $1 }
    END {
      n = split(roots, st, " ")
      while (n > 0) {
        p = st[n--]
        if (p in seen || !(p in rss)) continue
        seen[p] = 1; by[comm[p]] += rss[p]; total += rss[p]; count++
        m = split(kids[p], k, " "); for (i = 1; i <= m; i++) st[++n] = k[i]
      }
      for (c in by) printf "%-26s %8.1f MiB\n", c, by[c] / 1024 | "sort -k2 -rn"
      close("sort -k2 -rn")
      printf "%-26s %8.1f MiB (%d processes)\n", "TOTAL", total / 1024, count
    }'
}

cmd_kubeconfig() {
  [ -f "$LAB_KUBECONFIG" ] || die "no kubeconfig at $LAB_KUBECONFIG: run 'tests/lab/cluster/cluster.sh up' first"
  cat "$LAB_KUBECONFIG"
}

case "${1:-}" in
  up) need_root "cluster.sh up"; lab_lock; cmd_up ;;
  down) need_root "cluster.sh down"; lab_lock; cmd_down ;;
  status) cmd_status ;;
  kubeconfig) cmd_kubeconfig ;;
  mem) cmd_mem ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
exit 0

#!/usr/bin/env bash
# A minimal local-path provisioner for the lab (started by node.sh; runs until killed).
# For each PVC of the StorageClasses "local-path" or "local-path-expandable" (the same, with
# allowVolumeExpansion, standing in for Longhorn-like classes) that the scheduler has placed (annotation
# volume.kubernetes.io/selected-node), it creates a directory (mode 0777, as k3s's
# local-path-provisioner does) under $STATESHIFT_CACHE/lab/storage and a hostPath PV bound to
# the claim, pinned to that node. Released PVs with reclaimPolicy Delete are deleted with
# their directory. Watches the API; node.sh stops it by killing its process group.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

STORAGE="$LAB_DIR/storage"
PROVISIONER=rancher.io/local-path
INTERVAL="${LAB_PROVISIONER_INTERVAL:-1}"
mkdir -p "$STORAGE"

plog() { printf '%s %s\n' "$(date -u +%FT%TZ)" "$*"; }

provision() {
  local ns=$1 name=$2 uid=$3 node=$4 size=$5 modes=$6 mode=$7 class=$8 pv dir m modes_yaml=""
  pv="pvc-$uid"
  dir="$STORAGE/${pv}_${ns}_${name}"
  mkdir -p "$dir" && chmod 0777 "$dir"
  for m in ${modes//,/ }; do modes_yaml+="  - $m"$'\n'; done
  [ -n "$modes_yaml" ] || modes_yaml="  - ReadWriteOnce"$'\n'
  if kc create -f - >/dev/null 2>&1 <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  annotations:
    pv.kubernetes.io/provisioned-by: $PROVISIONER
    local.path.provisioner/selected-node: $node
  labels:
    stateshift.io/lab-storage: local-path
spec:
  storageClassName: $class
  persistentVolumeReclaimPolicy: Delete
  volumeMode: ${mode:-Filesystem}
  capacity:
    storage: $size
  accessModes:
$modes_yaml  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    namespace: $ns
    name: $name
    uid: $uid
  hostPath:
    path: $dir
    type: DirectoryOrCreate
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - key: kubernetes.io/hostname
          operator: In
          values: [$node]
YAML
  then plog "provisioned $pv for $ns/$name on $node at $dir"
  fi
}

reclaim() {
  local pv=$1 dir=$2
  if kc delete pv "$pv" --wait=false >/dev/null 2>&1; then
    case "$dir" in "$STORAGE"/pvc-*) rm -rf "$dir" ;; esac
    plog "deleted released $pv and $dir"
  fi
}

PVC_FIELDS='{.spec.storageClassName}|{.metadata.namespace}|{.metadata.name}|{.metadata.uid}|{.status.phase}|{.spec.volumeName}|{.metadata.annotations.volume\.kubernetes\.io/selected-node}|{.spec.resources.requests.storage}|{.spec.accessModes[*]}|{.spec.volumeMode}|{.metadata.deletionTimestamp}{"\n"}'
PV_FIELDS='{.metadata.name}|{.status.phase}|{.spec.persistentVolumeReclaimPolicy}|{.spec.hostPath.path}|{.metadata.deletionTimestamp}{"\n"}'

# Watches (a first listing, then every change) instead of polling: no CPU when idle. Each
# watch is restarted when it ends (API restart, timeout).
watch_pvcs() {
  while true; do
    kc get pvc -A --watch -o jsonpath="$PVC_FIELDS" 2>/dev/null \
      | while IFS='|' read -r class ns name uid phase vol node size modes mode deleting; do
          case "$class" in local-path|local-path-expandable) ;; *) continue ;; esac
          [ "$phase" = Pending ] && [ -z "$vol" ] && [ -n "$node" ] && [ -z "$deleting" ] || continue
          provision "$ns" "$name" "$uid" "$node" "${size:-1Gi}" "${modes// /,}" "$mode" "$class"
        done || true
    sleep "$INTERVAL"
  done
}

watch_pvs() {
  while true; do
    kc get pv -l stateshift.io/lab-storage=local-path --watch -o jsonpath="$PV_FIELDS" 2>/dev/null \
      | while IFS='|' read -r pv phase policy dir deleting; do
          [ "$phase" = Released ] && [ "$policy" = Delete ] && [ -z "$deleting" ] || continue
          reclaim "$pv" "$dir"
        done || true
    sleep "$INTERVAL"
  done
}

plog "local-path provisioner: classes local-path and local-path-expandable, storage $STORAGE"
watch_pvcs &
watch_pvs &
wait

#!/usr/bin/env bash
# The lab's Docker engine.
#
#   engine.sh ensure   use the running engine if 'docker info' answers; otherwise install Debian's
#                      docker.io and start dockerd in the background, then wait for it
#   engine.sh status   print whether an engine answers, its version, storage and cgroup drivers
#   engine.sh stop     stop the dockerd this script started (an engine it did not start is left alone)
#
# Environment: STATESHIFT_CACHE (see ../lib.sh), DOCKERD_LOG (default /var/log/stateshift-dockerd.log),
# DOCKERD_TIMEOUT (seconds to wait for the engine, default 60), DOCKERD_STORAGE_DRIVER (forces a driver).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/stateshift-dockerd.log}"
DOCKERD_PIDFILE="${DOCKERD_PIDFILE:-$STATESHIFT_RUN/dockerd.pid}"
DOCKERD_TIMEOUT="${DOCKERD_TIMEOUT:-60}"

engine_up() { docker info >/dev/null 2>&1; }

our_pid() {
  local pid
  [ -f "$DOCKERD_PIDFILE" ] || return 1
  pid=$(cat "$DOCKERD_PIDFILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa dockerd "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# Pick the storage driver: overlay2 when the kernel supports it on /var/lib/docker, else vfs.
storage_driver() {
  if [ -n "${DOCKERD_STORAGE_DRIVER:-}" ]; then echo "$DOCKERD_STORAGE_DRIVER"; return; fi
  if grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null; then echo overlay2; else echo vfs; fi
}

ensure() {
  if engine_up; then
    log "Docker engine already answers ($(docker info -f '{{.ServerVersion}}, storage {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}' 2>/dev/null))"
    return 0
  fi
  need_root "engine.sh ensure"
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    apt_install docker.io
  fi
  command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"
  # systemd may be present on a real VM: prefer the packaged service there.
  if [ -d /run/systemd/system ] && systemctl cat docker.service >/dev/null 2>&1; then
    log "starting docker.service with systemd"
    systemctl start docker.service || die "systemctl start docker failed: see 'journalctl -u docker'"
  else
    local pid driver
    if pid=$(our_pid); then
      log "dockerd (pid $pid) already started, waiting for it"
    else
      # A stale /var/run/docker.pid from a killed dockerd stops a new one from starting.
      if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
      driver=$(storage_driver)
      mkdir -p "$(dirname "$DOCKERD_LOG")" "$(dirname "$DOCKERD_PIDFILE")"
      log "starting dockerd (storage driver $driver), log in $DOCKERD_LOG"
      # setsid: the daemon must outlive this script and its terminal; 8>&- 9>&-: it must not
      # inherit the lock files of legacy.sh / images.sh (that would hold their locks forever).
      setsid dockerd --storage-driver="$driver" --pidfile=/var/run/docker.pid \
        </dev/null >>"$DOCKERD_LOG" 2>&1 8>&- 9>&- &
      echo $! >"$DOCKERD_PIDFILE"
    fi
  fi
  local waited=0
  until engine_up; do
    if [ -f "$DOCKERD_PIDFILE" ] && ! our_pid >/dev/null && ! [ -d /run/systemd/system ]; then
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd exited while starting; the last lines of $DOCKERD_LOG are above"
    fi
    if [ "$waited" -ge "$DOCKERD_TIMEOUT" ]; then
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "the Docker engine did not answer within ${DOCKERD_TIMEOUT}s; the last lines of $DOCKERD_LOG are above"
    fi
    sleep 1; waited=$((waited + 1))
  done
  log "Docker engine ready after ${waited}s ($(docker info -f '{{.ServerVersion}}, storage {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}'))"
}

status() {
  if engine_up; then
    docker info -f 'engine: running
version: {{.ServerVersion}}
storage driver: {{.Driver}}
cgroup: {{.CgroupDriver}} v{{.CgroupVersion}}
containers: {{.ContainersRunning}} running / {{.Containers}} total
images: {{.Images}}
root dir: {{.DockerRootDir}}'
    local pid
    if pid=$(our_pid); then echo "started by: engine.sh (pid $pid, log $DOCKERD_LOG)"; else echo "started by: someone else"; fi
  else
    echo "engine: not running"
    return 3
  fi
}

stop() {
  local pid i
  if ! pid=$(our_pid); then
    if engine_up; then log "the running Docker engine was not started by engine.sh: leaving it alone"; else log "no Docker engine running"; fi
    rm -f "$DOCKERD_PIDFILE"
    return 0
  fi
  need_root "engine.sh stop"
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$pid" 2>/dev/null; then die "dockerd (pid $pid) still running after ${i}s; see $DOCKERD_LOG"; fi
  rm -f "$DOCKERD_PIDFILE"
  log "dockerd stopped"
}

case "${1:-}" in
  ensure) ensure ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: $0 ensure|status|stop" >&2; exit 2 ;;
esac

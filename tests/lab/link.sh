#!/usr/bin/env bash
# The link between the lab's legacy host and the rest (the controller, the cluster's node and its pods).
#
#   link.sh shaped     put the legacy host behind a home-LAN-like link (idempotent; re-run it after
#                      legacy containers were recreated or added, their addresses are read now)
#   link.sh loopback   back to the plain local bridge (the default; idempotent)
#   link.sh status     print which link is on and its proxies
#
# What 'shaped' sets up, all undone by 'loopback' (nothing is rebuilt either way):
#   rate     tc TBF at LINK_RATE (default 1gbit) on the legacy network's bridge in both directions:
#            its egress (towards the legacy containers) and, through the IFB device ss-legacy-ifb, its
#            ingress (from them). Traffic between the legacy containers themselves (the VM's own
#            docker exec, compose network) is not shaped.
#   latency  toxiproxy (built by tests/lab/cluster/build.sh toxiproxy, cached) as the user
#            stateshift-link, one proxy per TCP port a legacy container exposes (sshd 22 of legacy-vm,
#            PostgreSQL 5432 of every source container), each with a latency toxic on the way back of
#            LINK_LATENCY_MS +/- LINK_JITTER_MS (default 1 +/- 1 ms, i.e. 0.5 ms per round trip on
#            average; toxiproxy counts whole milliseconds). netem, the usual tool, is not in this kernel.
#   routing  iptables nat chains STATESHIFT-LINK (OUTPUT: the controller, including the published
#            ports such as 127.0.0.1:2222 and 127.0.0.1:15432) and STATESHIFT-LINK-PRE (PREROUTING:
#            pods and other hosts) redirect connections to those container addresses into their proxy;
#            the proxy's own connections (uid stateshift-link) pass straight.
# State: $STATESHIFT_RUN/link (mode, toxiproxy pid); toxiproxy log: $STATESHIFT_CACHE/lab/logs/toxiproxy.log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

NETWORK=stateshift-legacy
IFB=ss-legacy-ifb
LINK_USER=stateshift-link
CHAIN=STATESHIFT-LINK
CHAIN_PRE=STATESHIFT-LINK-PRE
STATE="$STATESHIFT_RUN/link"
PIDFILE="$STATE/toxiproxy.pid"
API_PORT=${LINK_API_PORT:-8474}
API="http://127.0.0.1:$API_PORT"
FIRST_PROXY_PORT=${LINK_FIRST_PORT:-23400}
RATE=${LINK_RATE:-1gbit}
LATENCY_MS=${LINK_LATENCY_MS:-1}
JITTER_MS=${LINK_JITTER_MS:-1}
LOG_DIR="$STATESHIFT_CACHE/lab/logs"

bridge() {
  local id
  id=$(docker network inspect -f '{{.Id}}' "$NETWORK" 2>/dev/null) \
    || die "no Docker network $NETWORK: bring the legacy host up first (tests/lab/lab up)"
  printf 'br-%s\n' "${id:0:12}"
}

mode() { cat "$STATE/mode" 2>/dev/null || echo loopback; }

# --- rate: tc TBF both ways on the bridge ---
shape_rate() {
  local br=$1 tbf=(tbf rate "$RATE" burst 256kb latency 20ms)
  tc qdisc replace dev "$br" root handle 1: "${tbf[@]}"
  ip link show "$IFB" >/dev/null 2>&1 || ip link add "$IFB" type ifb
  ip link set "$IFB" up
  tc qdisc replace dev "$IFB" root handle 1: "${tbf[@]}"
  tc qdisc replace dev "$br" handle ffff: ingress
  tc filter replace dev "$br" parent ffff: pref 1 protocol all u32 match u32 0 0 action mirred egress redirect dev "$IFB"
}

unshape_rate() {
  local br=$1
  if [ -n "$br" ] && ip link show "$br" >/dev/null 2>&1; then
    tc qdisc del dev "$br" root 2>/dev/null || true
    tc qdisc del dev "$br" ingress 2>/dev/null || true
  fi
  if ip link show "$IFB" >/dev/null 2>&1; then ip link del "$IFB"; fi
}

# --- latency: toxiproxy ---
toxiproxy_running() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start_toxiproxy() {
  local bin waited=0
  "$HERE/cluster/build.sh" toxiproxy >&2
  bin="$("$HERE/cluster/build.sh" --print-dir toxiproxy)/toxiproxy-server"
  id -u "$LINK_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$LINK_USER"
  toxiproxy_running && return 0
  install -d -m 755 "$STATE" "$LOG_DIR"
  log "starting toxiproxy on 127.0.0.1:$API_PORT (as $LINK_USER, log $LOG_DIR/toxiproxy.log)"
  setsid env LOG_LEVEL="${LINK_LOG_LEVEL:-warn}" setpriv --reuid="$LINK_USER" --regid="$LINK_USER" --clear-groups \
    "$bin" -host 127.0.0.1 -port "$API_PORT" >>"$LOG_DIR/toxiproxy.log" 2>&1 </dev/null 8>&- &
  echo $! >"$PIDFILE"
  until curl -fsS "$API/version" >/dev/null 2>&1; do
    toxiproxy_running || die "toxiproxy exited (see $LOG_DIR/toxiproxy.log)"
    [ "$waited" -lt 50 ] || die "toxiproxy did not answer on $API within 10 s (see $LOG_DIR/toxiproxy.log)"
    sleep 0.2; waited=$((waited + 1))
  done
}

stop_toxiproxy() {
  if toxiproxy_running; then
    log "stopping toxiproxy (pid $(cat "$PIDFILE"))"
    kill "$(cat "$PIDFILE")" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

# endpoints: "container ip port published..." for every TCP port the legacy network's running containers expose;
# published = the HostIp:HostPort pairs docker publishes that port on.
endpoints() {
  local c
  for c in $(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$NETWORK"); do
    docker inspect -f '{{$ip := (index .NetworkSettings.Networks "'"$NETWORK"'").IPAddress}}{{range $p, $_ := .Config.ExposedPorts}}{{$.Name}} {{$ip}} {{$p}}{{range (index $.NetworkSettings.Ports $p)}} {{.HostIp}}:{{.HostPort}}{{end}}
{{end}}' "$c"
  done | sed -e 's#^/##' -e 's#/tcp##' | awk 'NF >= 3 && $3 ~ /^[0-9]+$/'
}

api() {
  local method=$1 path=$2 body=${3:-}
  curl -fsS -X "$method" -H 'Content-Type: application/json' ${body:+--data "$body"} "$API$path" >/dev/null \
    || die "toxiproxy API $method $path failed"
}

add_proxies() {
  local port=$FIRST_PROXY_PORT name container ip cport published hp
  iptables -t nat -A "$CHAIN" -m owner --uid-owner "$LINK_USER" -j RETURN
  while read -r container ip cport published; do
    name="$container-$cport"
    api POST /proxies "{\"name\": \"$name\", \"listen\": \"0.0.0.0:$port\", \"upstream\": \"$ip:$cport\", \"enabled\": true}"
    api POST "/proxies/$name/toxics" "{\"name\": \"lan-latency\", \"type\": \"latency\", \"stream\": \"downstream\", \"attributes\": {\"latency\": $LATENCY_MS, \"jitter\": $JITTER_MS}}"
    iptables -t nat -A "$CHAIN" -p tcp -d "$ip" --dport "$cport" -j REDIRECT --to-ports "$port"
    iptables -t nat -A "$CHAIN_PRE" -p tcp -d "$ip" --dport "$cport" -j REDIRECT --to-ports "$port"
    for hp in $published; do
      case "$hp" in
        0.0.0.0:* | :::* | "") ;;
        *) iptables -t nat -A "$CHAIN" -p tcp -d "${hp%:*}" --dport "${hp##*:}" -j REDIRECT --to-ports "$port" ;;
      esac
    done
    log "  $container:$cport ($ip) behind toxiproxy :$port${published:+, also as $published}"
    port=$((port + 1))
  done < <(endpoints)
}

# --- routing: iptables ---
chains_off() {
  local c hook
  for c in "$CHAIN:OUTPUT" "$CHAIN_PRE:PREROUTING"; do
    hook=${c#*:}; c=${c%%:*}
    while iptables -t nat -D "$hook" -j "$c" 2>/dev/null; do :; done
    iptables -t nat -F "$c" 2>/dev/null || true
    iptables -t nat -X "$c" 2>/dev/null || true
  done
}

chains_on() {
  local br=$1
  iptables -t nat -N "$CHAIN"
  iptables -t nat -N "$CHAIN_PRE"
  # connections from the legacy containers themselves (their own network) stay direct
  iptables -t nat -A "$CHAIN_PRE" -i "$br" -j RETURN
  iptables -t nat -I OUTPUT 1 -j "$CHAIN"
  iptables -t nat -I PREROUTING 1 -j "$CHAIN_PRE"
}

cmd_shaped() {
  local br
  need_root "link.sh shaped"
  command -v curl >/dev/null 2>&1 || apt_install curl
  br=$(bridge)
  install -d -m 755 "$STATE"
  exec 8>"$STATE/.lock"
  flock 8
  shape_rate "$br"
  start_toxiproxy
  api POST /reset
  curl -fsS "$API/proxies" | python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin)))' | while read -r name; do
    [ -z "$name" ] || api DELETE "/proxies/$name"
  done
  chains_off
  chains_on "$br"
  add_proxies
  echo shaped >"$STATE/mode"
  log "link shaped: $RATE both ways on $br, +${LATENCY_MS}±${JITTER_MS} ms on the way back through toxiproxy ('link.sh loopback' undoes it)"
}

cmd_loopback() {
  local br=""
  need_root "link.sh loopback"
  install -d -m 755 "$STATE"
  exec 8>"$STATE/.lock"
  flock 8
  br=$(docker network inspect -f '{{.Id}}' "$NETWORK" 2>/dev/null | cut -c1-12 || true)
  chains_off
  stop_toxiproxy
  unshape_rate "${br:+br-$br}"
  echo loopback >"$STATE/mode"
  log "link: loopback (no shaping)"
}

cmd_status() {
  local br
  echo "link: $(mode)"
  [ "$(mode)" = shaped ] || return 0
  br=$(bridge)
  echo "rate: $(tc qdisc show dev "$br" root | sed -n 's/.* rate \([^ ]*\).*/\1/p') out, $(tc qdisc show dev "$IFB" root 2>/dev/null | sed -n 's/.* rate \([^ ]*\).*/\1/p') in ($br, $IFB)"
  if toxiproxy_running; then
    curl -fsS "$API/proxies" | python3 -c '
import json, sys
for name, proxy in sorted(json.load(sys.stdin).items()):
    toxics = ", ".join("%s %s" % (t["type"], t["attributes"]) for t in proxy["toxics"])
    print("proxy %s: %s -> %s (%s)" % (name, proxy["listen"], proxy["upstream"], toxics))'
  else
    echo "toxiproxy: NOT RUNNING (run link.sh shaped again)"; return 1
  fi
}

case "${1:-status}" in
  shaped) cmd_shaped ;;
  loopback) cmd_loopback ;;
  status) cmd_status ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Entrypoint of stateshift-lab/nfs-server: rpcbind, then nfs-ganesha once rpcbind answers (ganesha registers its NFSv3
# services there; log in /var/log/ganesha.log), then legacy-host's entrypoint (authorized key, sshd in the foreground).
set -euo pipefail
mkdir -p /run/rpcbind /var/run/ganesha
rpcbind -w
for _ in $(seq 50); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
ganesha.nfsd -f /etc/ganesha/ganesha.conf -L /var/log/ganesha.log -p /var/run/ganesha/ganesha.pid
exec /usr/local/sbin/legacy-entrypoint.sh "$@"

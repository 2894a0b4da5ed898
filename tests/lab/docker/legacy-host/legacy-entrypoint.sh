#!/usr/bin/env bash
# Entrypoint of stateshift-lab/legacy-host: new host keys, the authorized key from
# $SSH_AUTHORIZED_KEYS (or a file mounted at /run/secrets/authorized_keys), then sshd in the foreground.
set -euo pipefail
ssh-keygen -A >/dev/null
install -d -m 700 /root/.ssh
if [ -n "${SSH_AUTHORIZED_KEYS:-}" ]; then
  printf '%s\n' "$SSH_AUTHORIZED_KEYS" >/root/.ssh/authorized_keys
elif [ -r /run/secrets/authorized_keys ]; then
  cat /run/secrets/authorized_keys >/root/.ssh/authorized_keys
fi
[ -s /root/.ssh/authorized_keys ] || echo "legacy-host: warning: no authorized key (set SSH_AUTHORIZED_KEYS)" >&2
chmod 600 /root/.ssh/authorized_keys 2>/dev/null || true
unset SSH_AUTHORIZED_KEYS
# sessions get a PATH with the docker client, like a login on the VM
mkdir -p /run/sshd
if [ $# -gt 0 ]; then exec "$@"; fi
exec /usr/sbin/sshd -D -e

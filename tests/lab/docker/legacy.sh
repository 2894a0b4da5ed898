#!/usr/bin/env bash
# The lab's "legacy Compose stack": the source of a migration, as a user has it on a Docker VM.
#
#   legacy.sh up [--scale small|large] [--pg-major N]
#                                        start it (idempotent; data loaded once)
#   legacy.sh down                       remove its containers, volume and network (keeps key and password)
#   legacy.sh fresh [--scale ..]         the Invoicetron stack and its data anew from the seed, then 'up' (the demo,
#                                        after an earlier demo cut it over and retired it)
#   legacy.sh status                     print what is running
#   legacy.sh broker-up                  also start the old message broker (after 'up'; idempotent)
#   legacy.sh mongo-up                   also start the old document store (after 'up'; idempotent)
#
# What 'up' builds:
#   network    stateshift-legacy
#   legacy-vm  stateshift-lab/legacy-host:bookworm: sshd on 127.0.0.1:2222 (root, key only), the docker
#              CLI and docker-compose driving this machine's engine through /var/run/docker.sock, the
#              Compose project in /home/app/invoicetron (docker-compose.yml + .env)
#   invoicetron-db  started by 'docker-compose up -d' on legacy-vm: postgres:15 (= stateshift-lab/postgres:15),
#              user/db invoicetron, named volume invoicetron_pgdata, published on 127.0.0.1:15432,
#              loaded with ../sampledata (SAMPLE_ROWS or --scale), plus the database invoicetron_reports
#   bowmark-broker  started by 'broker-up' with 'docker-compose up -d' in /home/app/bowmark on legacy-vm:
#              rabbitmq:3.10-management (= stateshift-lab/rabbitmq:3.10), node rabbit@bowmark-broker, named volume
#              bowmark_mqdata, not published (reached at its IP on stateshift-legacy), and bowmark-worker, the
#              project's application service; both empty until a test declares its vhosts and publishes
#   lab-nfs    stateshift-lab/nfs-server:bookworm: the "Linux NFS server" of the storage phase (nfs-ganesha, rpcbind,
#              sshd; root, key only), reached at its address on stateshift-legacy; exports under /srv (volume
#              stateshift-lab-nfs); the storage phase writes them (inventories/lab/group_vars/all/storage.yml)
#   vinylvault-db  started by 'mongo-up' with 'docker-compose up -d' in /home/app/vinylvault on legacy-vm:
#              ferretdb/ferretdb:1.24 (= stateshift-lab/ferretdb:1.24: FerretDB on SQLite with mongodump and
#              mongorestore; no MongoDB server can run here), volume vinylvault_state, not published (reached at its
#              IP on stateshift-legacy), and vinylvault-api, the project's application service
# and under $STATESHIFT_CACHE/lab/:
#   ssh/id_ed25519, ssh/known_hosts       the key legacy-vm and lab-nfs accept, legacy-vm's host key
#   ssh/nfs_known_hosts                   lab-nfs's host key
#   legacy/postgres-password              the database password (0600, never printed)
#   inventory/legacy.yml                  an Ansible inventory for legacy-vm and lab-nfs
#
# --pg-major N (or LEGACY_PG_MAJOR=N; default 15) runs invoicetron-db on postgres:N instead, for N in
# 14-18 (see image-map.txt): the compose file's image line says postgres:N. A data volume is tied to
# its major: switching an existing stack to another major fails until 'legacy.sh down' removed it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

LAB="$STATESHIFT_CACHE/lab"
SSH_DIR="$LAB/ssh"
KEY="$SSH_DIR/id_ed25519"
KNOWN_HOSTS="$SSH_DIR/known_hosts"
STATE="$LAB/legacy"
PASSWORD_FILE="$STATE/postgres-password"
PROJECT_DIR="$STATE/invoicetron"   # bind-mounted at /home/app/invoicetron in legacy-vm
BROKER_PROJECT_DIR="$STATE/bowmark" # bind-mounted at /home/app/bowmark in legacy-vm
MONGO_PROJECT_DIR="$STATE/vinylvault" # bind-mounted at /home/app/vinylvault in legacy-vm
INVENTORY="$LAB/inventory/legacy.yml"
NETWORK=stateshift-legacy
VM=legacy-vm
VM_IMAGE=stateshift-lab/legacy-host:bookworm
DB=invoicetron-db
APP=invoicetron-app
DB_VOLUME=invoicetron_pgdata
SSH_PORT=2222
PG_PORT=15432
COMPOSE_DIR=/home/app/invoicetron
BROKER_COMPOSE_DIR=/home/app/bowmark
BROKER=bowmark-broker
BROKER_APP=bowmark-worker
BROKER_VOLUME=bowmark_mqdata
MONGO_COMPOSE_DIR=/home/app/vinylvault
MONGO=vinylvault-db
MONGO_APP=vinylvault-api
MONGO_VOLUME=vinylvault_state
DEFAULT_PG_MAJOR=15
NFS=lab-nfs
NFS_IMAGE=stateshift-lab/nfs-server:bookworm
NFS_VOLUME=stateshift-lab-nfs
NFS_KNOWN_HOSTS="$SSH_DIR/nfs_known_hosts"

ssh_vm() {
  ssh -i "$KEY" -p "$SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$KNOWN_HOSTS" -o ConnectTimeout=10 -o LogLevel=ERROR root@127.0.0.1 "$@"
}

exists() { docker inspect "$1" >/dev/null 2>&1; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

ensure_key() {
  install -d -m 700 "$SSH_DIR"
  if [ ! -s "$KEY" ]; then
    command -v ssh-keygen >/dev/null 2>&1 || apt_install openssh-client
    log "generating the lab's ssh key $KEY"
    ssh-keygen -q -t ed25519 -N '' -C "stateshift-lab" -f "$KEY"
  fi
  chmod 600 "$KEY"
}

ensure_password() {
  local major=$1
  install -d -m 700 "$STATE" "$PROJECT_DIR"
  if [ ! -s "$PASSWORD_FILE" ]; then
    log "generating the source database password (kept in $PASSWORD_FILE)"
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PASSWORD_FILE.tmp")
    mv "$PASSWORD_FILE.tmp" "$PASSWORD_FILE"
  fi
  chmod 600 "$PASSWORD_FILE"
  # the Compose project as the VM's owner keeps it: docker-compose.yml + .env with the password
  if [ "$major" = "$DEFAULT_PG_MAJOR" ]; then
    install -m 644 "$HERE/legacy-stack/docker-compose.yml" "$PROJECT_DIR/docker-compose.yml"
  else
    sed "s|^\(    image: postgres:\)$DEFAULT_PG_MAJOR\$|\1$major|" "$HERE/legacy-stack/docker-compose.yml" >"$PROJECT_DIR/docker-compose.yml.tmp"
    grep -q "^    image: postgres:$major\$" "$PROJECT_DIR/docker-compose.yml.tmp" \
      || die "could not set postgres:$major in the compose file (legacy-stack/docker-compose.yml changed?)"
    chmod 644 "$PROJECT_DIR/docker-compose.yml.tmp"
    mv "$PROJECT_DIR/docker-compose.yml.tmp" "$PROJECT_DIR/docker-compose.yml"
  fi
  (umask 077; printf 'POSTGRES_PASSWORD=%s\n' "$(cat "$PASSWORD_FILE")" >"$PROJECT_DIR/.env.tmp")
  mv "$PROJECT_DIR/.env.tmp" "$PROJECT_DIR/.env"
}

# save_known_hosts FILE KEYS: ssh-keyscan's lines as the known_hosts file (0600), replaced whole.
save_known_hosts() {
  printf '%s\n' "$2" | sort >"$1.tmp"
  mv "$1.tmp" "$1"
  chmod 600 "$1"
}

ensure_vm() {
  local image_id want_id
  want_id=$(docker image inspect -f '{{.Id}}' "$VM_IMAGE")
  if exists "$VM"; then
    image_id=$(docker inspect -f '{{.Image}}' "$VM")
    if [ "$image_id" != "$want_id" ]; then
      log "$VM runs an older $VM_IMAGE: recreating it"
      docker rm -f "$VM" >/dev/null
    elif ! docker inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' "$VM" | grep -qw "$MONGO_COMPOSE_DIR"; then
      log "$VM has no $MONGO_COMPOSE_DIR mount (made by an older legacy.sh): recreating it"
      docker rm -f "$VM" >/dev/null
    elif ! running "$VM"; then
      log "starting $VM"
      docker start "$VM" >/dev/null
    fi
  fi
  if ! exists "$VM"; then
    log "starting $VM (sshd on 127.0.0.1:$SSH_PORT)"
    docker run -d --name "$VM" --hostname "$VM" --network "$NETWORK" \
      --restart unless-stopped --label org.stateshift.lab=legacy \
      -p "127.0.0.1:$SSH_PORT:22" \
      -v /var/run/docker.sock:/var/run/docker.sock \
      -v "$PROJECT_DIR:$COMPOSE_DIR" \
      -v "$BROKER_PROJECT_DIR:$BROKER_COMPOSE_DIR" \
      -v "$MONGO_PROJECT_DIR:$MONGO_COMPOSE_DIR" \
      -e SSH_AUTHORIZED_KEYS="$(cat "$KEY.pub")" \
      "$VM_IMAGE" >/dev/null
  fi
  # The host key is new whenever the container is: record it (this is what makes StrictHostKeyChecking safe).
  local waited=0 keys
  until keys=$(ssh-keyscan -p "$SSH_PORT" -T 2 127.0.0.1 2>/dev/null) && [ -n "$keys" ]; do
    running "$VM" || { docker logs --tail 20 "$VM" >&2 2>&1 || true; die "$VM stopped (log tail above)"; }
    [ "$waited" -lt 60 ] || die "sshd of $VM did not answer on 127.0.0.1:$SSH_PORT within 60s"
    sleep 1; waited=$((waited + 1))
  done
  save_known_hosts "$KNOWN_HOSTS" "$keys"
  ssh_vm true || die "ssh root@127.0.0.1 -p $SSH_PORT with $KEY failed"
}

nfs_answering() { docker exec "$NFS" sh -c "rpcinfo -t 127.0.0.1 nfs 4 && bash -c '</dev/tcp/127.0.0.1/22'"; }

# The lab's NFS server. ganesha's VFS FSAL needs open_by_handle_at: CAP_DAC_READ_SEARCH and a seccomp profile that
# allows it, on a volume. A container that does not answer after a restart of the engine is made anew (its exports are
# the storage phase's to write again).
ensure_nfs_server() {
  local waited=0 address keys
  if exists "$NFS" && [ "$(docker inspect -f '{{.Image}}' "$NFS")" != "$(docker image inspect -f '{{.Id}}' "$NFS_IMAGE")" ]; then
    log "$NFS runs an older $NFS_IMAGE: recreating it"
    docker rm -f "$NFS" >/dev/null
  fi
  if exists "$NFS" && ! running "$NFS"; then docker start "$NFS" >/dev/null || docker rm -f "$NFS" >/dev/null; fi
  if exists "$NFS"; then
    until nfs_answering >/dev/null 2>&1 || [ "$waited" -ge 20 ]; do sleep 1; waited=$((waited + 1)); done
    if ! nfs_answering >/dev/null 2>&1; then
      log "$NFS does not serve NFS: recreating it"
      docker rm -f "$NFS" >/dev/null
    fi
    waited=0
  fi
  if ! exists "$NFS"; then
    log "starting $NFS (nfs-ganesha, sshd)"
    docker run -d --name "$NFS" --hostname "$NFS" --network "$NETWORK" --restart unless-stopped \
      --label org.stateshift.lab=legacy --cap-add DAC_READ_SEARCH --security-opt seccomp=unconfined \
      -v "$NFS_VOLUME:/srv" -e SSH_AUTHORIZED_KEYS="$(cat "$KEY.pub")" "$NFS_IMAGE" >/dev/null
    wait_answering "$NFS" 60 "serve NFS and ssh" nfs_answering
  fi
  address=$(container_ip "$NFS")
  until keys=$(ssh-keyscan -T 2 "$address" 2>/dev/null) && [ -n "$keys" ]; do
    [ "$waited" -lt 30 ] || die "sshd of $NFS did not answer on $address:22 within 30s"
    sleep 1; waited=$((waited + 1))
  done
  save_known_hosts "$NFS_KNOWN_HOSTS" "$keys"
}

write_inventory() {
  local nfs_address
  nfs_address=$(container_ip "$NFS")
  install -d -m 700 "$(dirname "$INVENTORY")"
  cat >"$INVENTORY.tmp" <<EOF
# Written by tests/lab/docker/legacy.sh: the lab's legacy Docker host (a container standing in for a VM).
# Its Docker CLI drives this machine's engine; the source database is the container $DB.
all:
  children:
    legacy:
      hosts:
        $VM:
          ansible_host: 127.0.0.1
          ansible_port: $SSH_PORT
          ansible_user: root
          ansible_ssh_private_key_file: $KEY
          ansible_ssh_common_args: "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=$KNOWN_HOSTS"
          ansible_python_interpreter: /usr/bin/python3
          # the lab's facts about the source (not secrets: the password stays in the file)
          stateshift_lab_source:
            container: $DB
            database: invoicetron
            extra_databases: [invoicetron_reports]
            user: invoicetron
            password_file: $PASSWORD_FILE
            compose_dir: $COMPOSE_DIR
            compose_project: invoicetron
            app_container: $APP
            volume: $DB_VOLUME
            direct_host: 127.0.0.1
            direct_port: $PG_PORT
    nfs_servers:
      hosts:
        $NFS:
          ansible_host: $nfs_address
          ansible_user: root
          ansible_ssh_private_key_file: $KEY
          ansible_ssh_common_args: "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=$NFS_KNOWN_HOSTS"
          ansible_python_interpreter: /usr/bin/python3
EOF
  mv "$INVENTORY.tmp" "$INVENTORY"
}

# pg_image MAJOR: the images.sh name of postgres:MAJOR.
pg_image() { if [ "$1" = "$DEFAULT_PG_MAJOR" ]; then echo postgres; else echo "postgres-$1"; fi; }

# check_major MAJOR: refuse to put an existing database on another major (its volume would not start).
check_major() {
  local have
  exists "$DB" || return 0
  have=$(docker inspect -f '{{.Config.Image}}' "$DB")
  [ "$have" = "postgres:$1" ] \
    || die "$DB runs $have, not postgres:$1: its volume $DB_VOLUME holds that major's data. Run 'legacy.sh down' first (it removes the data)."
}

cmd_up() {
  local scale=${1:-small} major=${2:-$DEFAULT_PG_MAJOR} t0=$SECONDS
  need_root "legacy.sh up"
  install -d -m 700 "$STATE" "$BROKER_PROJECT_DIR" "$MONGO_PROJECT_DIR"
  exec 8>"$STATE/.lock"
  flock 8
  "$HERE/engine.sh" ensure
  "$HERE/images.sh" build "$(pg_image "$major")" legacy-host nfs-server
  "$HERE/images.sh" alias
  command -v ssh >/dev/null 2>&1 || apt_install openssh-client
  ensure_key
  check_major "$major"
  ensure_password "$major"
  docker network inspect "$NETWORK" >/dev/null 2>&1 || {
    log "creating the network $NETWORK"
    docker network create --label org.stateshift.lab=legacy "$NETWORK" >/dev/null
  }
  ensure_vm
  if exists "$DB" && [ "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$DB")" = no ]; then
    # the retire phase (make demo) kept it from starting again: the stack and its data start over from the seed
    log "$DB was retired (restart policy no): docker-compose down -v in $VM:$COMPOSE_DIR, then a fresh stack"
    ssh_vm "cd $COMPOSE_DIR && docker-compose down -v" >&2 || die "docker-compose down failed on $VM"
  fi
  log "docker-compose up -d in $VM:$COMPOSE_DIR"
  ssh_vm "cd $COMPOSE_DIR && docker-compose up -d --quiet-pull" >&2 \
    || die "docker-compose up failed on $VM"
  "$HERE/../sampledata/load.sh" --container "$DB" --user invoicetron --db invoicetron --scale "$scale"
  ensure_nfs_server
  write_inventory
  [ "$major" = "$DEFAULT_PG_MAJOR" ] || log "invoicetron-db runs postgres:$major"
  log "legacy stack up in $((SECONDS - t0))s: ssh -i $KEY -p $SSH_PORT root@127.0.0.1; postgres on 127.0.0.1:$PG_PORT; inventory $INVENTORY"
}

# project_up IMAGE COMPOSE_FILE PROJECT_DIR COMPOSE_DIR: a second Compose project on legacy-vm (after 'up'), its image built first.
project_up() {
  local image=$1 compose_file=$2 project_dir=$3 compose_dir=$4
  if ! running "$VM" || [ ! -s "$KNOWN_HOSTS" ]; then die "$VM is not running: run 'legacy.sh up' first"; fi
  "$HERE/images.sh" build "$image"
  "$HERE/images.sh" alias
  install -m 644 "$HERE/legacy-stack/$compose_file" "$project_dir/docker-compose.yml"
  log "docker-compose up -d in $VM:$compose_dir"
  ssh_vm "cd $compose_dir && docker-compose up -d --quiet-pull" >&2 || die "docker-compose up failed on $VM"
}

# wait_answering CONTAINER SECONDS WHAT CHECK...: until CHECK succeeds; fails when the container stops or time runs out.
wait_answering() {
  local container=$1 seconds=$2 what=$3 waited=0
  shift 3
  until "$@" >/dev/null 2>&1; do
    running "$container" || { docker logs --tail 20 "$container" >&2 2>&1 || true; die "$container stopped (log tail above)"; }
    [ "$waited" -lt "$seconds" ] || die "$container did not $what within ${seconds}s"
    sleep 1; waited=$((waited + 1))
  done
}

container_ip() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
tcp_open() { (exec 3<>"/dev/tcp/$1/$2"); }

cmd_broker_up() {
  local t0=$SECONDS
  need_root "legacy.sh broker-up"
  project_up rabbitmq bowmark-compose.yml "$BROKER_PROJECT_DIR" "$BROKER_COMPOSE_DIR"
  # ping answers once the Erlang node is up, before the rabbit application has booted; check_running waits for that
  wait_answering "$BROKER" 120 "run the rabbit application" docker exec "$BROKER" rabbitmq-diagnostics -q check_running
  log "old broker up in $((SECONDS - t0))s: $BROKER at $(container_ip "$BROKER"):5672"
}

cmd_mongo_up() {
  local t0=$SECONDS address
  need_root "legacy.sh mongo-up"
  project_up ferretdb vinylvault-compose.yml "$MONGO_PROJECT_DIR" "$MONGO_COMPOSE_DIR"
  address=$(container_ip "$MONGO")
  wait_answering "$MONGO" 60 "accept connections on $address:27017" tcp_open "$address" 27017
  log "old document store up in $((SECONDS - t0))s: $MONGO at $address:27017"
}

cmd_down() {
  need_root "legacy.sh down"
  install -d -m 700 "$STATE"
  exec 8>"$STATE/.lock"
  flock 8
  if ! docker info >/dev/null 2>&1; then log "no Docker engine answers: nothing to remove"; return 0; fi
  if running "$VM" && [ -s "$KEY" ] && [ -s "$KNOWN_HOSTS" ]; then
    log "docker-compose down -v in $VM:$COMPOSE_DIR"
    ssh_vm "cd $COMPOSE_DIR && docker-compose down -v" >&2 || log "docker-compose down failed: removing by hand"
  fi
  local c
  for c in "$MONGO_APP" "$MONGO" "$BROKER_APP" "$BROKER" "$APP" "$DB" "$VM" "$NFS"; do
    if exists "$c"; then log "removing container $c"; docker rm -f "$c" >/dev/null; fi
  done
  for c in "$DB_VOLUME" "$BROKER_VOLUME" "$MONGO_VOLUME" "$NFS_VOLUME"; do
    if docker volume inspect "$c" >/dev/null 2>&1; then log "removing volume $c"; docker volume rm "$c" >/dev/null; fi
  done
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then log "removing network $NETWORK"; docker network rm "$NETWORK" >/dev/null; fi
  rm -f "$KNOWN_HOSTS" "$NFS_KNOWN_HOSTS" "$INVENTORY"
  log "legacy stack removed (kept: $KEY, $PASSWORD_FILE)"
}

cmd_fresh() {
  need_root "legacy.sh fresh"
  if running "$VM" && [ -s "$KEY" ] && [ -s "$KNOWN_HOSTS" ]; then
    log "docker-compose down -v in $VM:$COMPOSE_DIR"
    ssh_vm "cd $COMPOSE_DIR && docker-compose down -v" >&2 || die "docker-compose down failed on $VM"
  fi
  cmd_up "$@"
}

cmd_status() {
  local c rc=0
  if ! docker info >/dev/null 2>&1; then
    if [ -S /var/run/docker.sock ] && [ ! -w /var/run/docker.sock ]; then
      echo "docker engine: not reachable by uid $(id -u) (run as root)"; return 4
    fi
    echo "docker engine: not running"; return 3
  fi
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then echo "network $NETWORK: present"; else echo "network $NETWORK: absent"; rc=3; fi
  for c in "$VM" "$DB" "$NFS"; do
    if exists "$c"; then
      echo "container $c: $(docker inspect -f '{{.State.Status}}{{if .State.Health}} ({{.State.Health.Status}}){{end}}, image {{.Config.Image}}' "$c")"
    else
      echo "container $c: absent"; rc=3
    fi
  done
  if docker volume inspect "$DB_VOLUME" >/dev/null 2>&1; then echo "volume $DB_VOLUME: present"; else echo "volume $DB_VOLUME: absent"; fi
  if running "$DB"; then
    echo "sample data: $(docker exec -i "$DB" psql -X -At -U invoicetron -d invoicetron 2>/dev/null <<<"SELECT 'scale=' || (SELECT value FROM sample_meta WHERE key = 'scale') || ' invoice_lines=' || (SELECT value FROM sample_meta WHERE key = 'rows') FROM sample_meta WHERE key = 'loaded';" || echo none)"
  fi
  if running "$VM" && [ -s "$KNOWN_HOSTS" ]; then
    if ssh_vm true 2>/dev/null; then echo "ssh root@127.0.0.1:$SSH_PORT: ok"; else echo "ssh root@127.0.0.1:$SSH_PORT: FAILED"; rc=1; fi
  fi
  if [ -f "$INVENTORY" ]; then echo "inventory: $INVENTORY"; else echo "inventory: absent"; fi
  return $rc
}

cmd=${1:-}; [ $# -eq 0 ] || shift
scale=${SAMPLE_SCALE:-small}
major=${LEGACY_PG_MAJOR:-$DEFAULT_PG_MAJOR}
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=${2:?--scale needs small or large}; shift 2 ;;
    --scale=*) scale=${1#--scale=}; shift ;;
    --pg-major) major=${2:?--pg-major needs a PostgreSQL major version}; shift 2 ;;
    --pg-major=*) major=${1#--pg-major=}; shift ;;
    *) die "legacy.sh: unknown argument '$1'" ;;
  esac
done
case "$scale" in small | large) ;; *) die "unknown scale '$scale' (small or large; SAMPLE_ROWS sets an exact size)" ;; esac
case "$major" in 14 | 15 | 16 | 17 | 18) ;; *) die "unknown PostgreSQL major '$major' for the legacy database (14 to 18)" ;; esac
case "$cmd" in
  up) cmd_up "$scale" "$major" ;;
  broker-up) cmd_broker_up ;;
  mongo-up) cmd_mongo_up ;;
  down) cmd_down ;;
  fresh) cmd_fresh "$scale" "$major" ;;
  status) cmd_status ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Entrypoint of the lab's PostgreSQL images: stateshift-lab/postgres:15 (Debian's postgresql-15) and
# stateshift-lab/postgres:14/16/17/18 (upstream binaries, through ../postgres-runtime/Dockerfile).
#
# Honours the contract of the official postgres image, so manifests and compose files written for
# postgres:NN work unchanged:
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE,
#   POSTGRES_DB (default = POSTGRES_USER), PGDATA (default /var/lib/postgresql/data, may be a
#   subdirectory of a mounted volume), POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR,
#   POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), /docker-entrypoint-initdb.d/*.sh, *.sql,
#   *.sql.gz, *.sql.xz run once when the database is created. Any *_FILE variant of
#   POSTGRES_USER/PASSWORD/DB/INITDB_ARGS is read from that file.
# Started as root it fixes the data folder's ownership and drops to postgres (uid 999); started as
# any other uid (Kubernetes runAsUser, with fsGroup) it runs as that uid. postgres is exec'ed, so it
# is PID 1 and receives the container's stop signal.
set -Eeo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
fail() { log "error: $*"; exit 1; }

# file_env VAR [DEFAULT]: VAR from the environment, or from the file named by VAR_FILE.
file_env() {
  local var=$1 fileVar="${1}_FILE" def=${2:-} val
  if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then fail "both $var and $fileVar are set (but are exclusive)"; fi
  val=$def
  if [ -n "${!var:-}" ]; then
    val=${!var}
  elif [ -n "${!fileVar:-}" ]; then
    [ -r "${!fileVar}" ] || fail "$fileVar=${!fileVar} is not readable"
    val=$(<"${!fileVar}")
  fi
  export "$var"="$val"
  unset "$fileVar"
}

# Arbitrary uids (OpenShift, runAsUser without a passwd entry): initdb needs a user name.
nss_wrap() {
  if ! getent passwd "$(id -u)" >/dev/null 2>&1; then
    local wrapper
    for wrapper in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do [ -e "$wrapper" ] && break; done
    [ -e "$wrapper" ] || return 0
    NSS_WRAPPER_PASSWD=$(mktemp) NSS_WRAPPER_GROUP=$(mktemp)
    export LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$NSS_WRAPPER_PASSWD"
    printf 'postgres:x:%s:\n' "$(id -g)" >"$NSS_WRAPPER_GROUP"
  fi
}
nss_unwrap() {
  if [ -n "${NSS_WRAPPER_PASSWD:-}" ]; then
    rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
    unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  fi
}

setup_env() {
  : "${PGDATA:=/var/lib/postgresql/data}"
  export PGDATA
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_dirs() {
  local user
  user=$(id -u)
  mkdir -p "$PGDATA" || fail "cannot create PGDATA=$PGDATA as uid $user"
  chmod 00700 "$PGDATA" 2>/dev/null || true
  mkdir -p /var/run/postgresql
  chmod 03775 /var/run/postgresql 2>/dev/null || true
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    [ "$user" != 0 ] || find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres: '{}' +
    chmod 700 "$POSTGRES_INITDB_WALDIR"
  fi
  if [ "$user" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres: '{}' +
  fi
}

verify_minimum_env() {
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser, e.g. "-e
       POSTGRES_PASSWORD=password" on "docker run" (or POSTGRES_PASSWORD_FILE), or set
       POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password (NOT recommended).
EOF
    exit 1
  fi
  if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
    log "warning: the POSTGRES_PASSWORD is 100+ characters; some clients truncate it"
  fi
}

init_db() {
  nss_wrap
  local args=()
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then args+=(--waldir "$POSTGRES_INITDB_WALDIR"); fi
  # Word splitting is wanted: POSTGRES_INITDB_ARGS is a list of options, as in the official image.
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") "${args[@]}" $POSTGRES_INITDB_ARGS
  nss_unwrap
}

setup_hba() {
  # PostgreSQL 14 and later store passwords as scram-sha-256, so that is the default host method
  local method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ "$method" = trust ]; then
    log "warning: POSTGRES_HOST_AUTH_METHOD=trust: every host may connect without a password"
  fi
  printf '\n# added by docker-entrypoint.sh (POSTGRES_HOST_AUTH_METHOD)\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
}

temp_server_start() {
  # unix socket only: clients waiting on TCP (pg_isready -h 127.0.0.1) do not see the init server
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p ${PGPORT:-5432}" start >/dev/null
}
temp_server_stop() { pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null; }

run_psql() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }

setup_db() {
  local exists
  # psql interpolates :'db' in its input, not in -c
  exists=$(run_psql --dbname postgres -At --set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
  if [ -z "$exists" ]; then
    run_psql --dbname postgres --set db="$POSTGRES_DB" >/dev/null <<<'CREATE DATABASE :"db";'
  fi
}

process_init_files() {
  local f
  for f in "$@"; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"
        else log "sourcing $f"; # shellcheck disable=SC1090
          . "$f"; fi ;;
      *.sql) log "running $f"; run_psql --dbname "$POSTGRES_DB" -f "$f"; echo ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | run_psql --dbname "$POSTGRES_DB"; echo ;;
      *.sql.xz) log "running $f"; xzcat "$f" | run_psql --dbname "$POSTGRES_DB"; echo ;;
      *.sql.zst) log "running $f"; zstd -dc "$f" | run_psql --dbname "$POSTGRES_DB"; echo ;;
      *) log "ignoring $f" ;;
    esac
  done
}

main() {
  # 'docker run IMAGE -c foo=bar' means postgres -c foo=bar
  if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi

  if [ "$1" = postgres ] && ! [ "${2:-}" = --help ] && ! [ "${2:-}" = --describe-config ] && ! [ "${2:-}" = -V ] && ! [ "${2:-}" = --version ]; then
    setup_env
    create_dirs
    if [ "$(id -u)" = 0 ]; then
      # re-run this script as postgres (uid 999)
      exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      verify_minimum_env
      # an unreadable /docker-entrypoint-initdb.d must fail before initdb, not half-way
      ls /docker-entrypoint-initdb.d/ >/dev/null
      init_db
      setup_hba
      export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
      temp_server_start
      setup_db
      shopt -s nullglob
      process_init_files /docker-entrypoint-initdb.d/*
      shopt -u nullglob
      temp_server_stop
      unset PGPASSWORD
      log "PostgreSQL init process complete; ready for start up."
    else
      log "PostgreSQL database directory appears to contain a database; skipping initialization"
    fi
  fi
  exec "$@"
}

# Init scripts may source this file to reuse its functions (as with the official image).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi

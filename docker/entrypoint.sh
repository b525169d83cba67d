#!/bin/sh
# gpool-entrypoint: the entrypoint of the gpool image; one image, three roles.
#
#   gpool-entrypoint coordinator [FLAG...]   runs gpool-coordinator
#   gpool-entrypoint worker [FLAG...]        runs gpool-worker
#   gpool-entrypoint healthcheck             gRPC health probe of this container's daemon
#   gpool-entrypoint credentials             one-shot: gpool init into $GPOOL_CREDENTIALS
#                                            unless it holds credentials already (compose)
#   gpool-entrypoint gpool|gpool-*|sh ARGS   runs that program as is
#   gpool-entrypoint ARGS                    runs the CLI: gpool ARGS (map ..., info, health ...)
#
# Environment (an unset or empty variable leaves the daemon's own default):
#   GPOOL_LISTEN              HOST:PORT the daemon listens on
#                             (coordinator 0.0.0.0:50051, worker 0.0.0.0:50052; port 0 = any)
#   GPOOL_COORDINATOR         HOST:PORT of the coordinator (worker and CLI; read by the binaries)
#   GPOOL_CREDENTIALS         directory of TLS credentials (gpool init; read by the binaries)
#   GPOOL_CREDENTIAL_HOSTS    credentials: the host names and addresses (space-separated)
#                             the coordinator's certificate is valid for
#                             (default: coordinator localhost 127.0.0.1)
#   GPOOL_CREDENTIALS_OWNER   credentials: UID:GID the new files are handed to (10001:10001)
#   GPOOL_INSECURE            non-empty: pass --insecure, plain text on a non-loopback listen
#                             address without credentials (docs/security.md)
#   GPOOL_ADVERTISE_HOST      worker: host name or IP the coordinator dials (default: the
#                             container's host name when listening on 0.0.0.0)
#   GPOOL_ADVERTISE_IP        worker, when GPOOL_ADVERTISE_HOST is unset: non-empty means
#                             advertise the container's IPv4 address (its host name's, from
#                             /etc/hosts) instead of its host name. For Swarm: its DNS learns a
#                             new task's name only moments after the task starts, and a
#                             coordinator that cannot resolve a worker takes it for dead.
#   GPOOL_SLOTS               worker: chunks computed at once (default 1)
#   GPOOL_HEARTBEAT_INTERVAL  coordinator: heartbeat period asked of workers (default 500ms)
#   GPOOL_LEASE_TIMEOUT       coordinator: silence after which a worker is dead (default 3s)
#   GPOOL_HEARTBEAT_BUDGET    coordinator: heartbeats/s of all workers together; beyond it
#                             the period grows with the cluster (default 400; 0 = fixed)
#   GPOOL_WORKER_WAIT         coordinator: how long a job waits for a first worker (default 10s)
#   GPOOL_CHUNK_TIMEOUT       coordinator: deadline of one chunk RPC (default 10m)
#   GPOOL_LOG_LEVEL           coordinator and worker: debug, info, warning or error
#   GPOOL_CHUNK_DELAY         worker, fault injection for tests only: wait this long per chunk
#   GPOOL_RUN_DIR             where the daemon writes its port file (default /tmp)
# Extra flags after the role are passed through, e.g. `coordinator --max_attempts=6`.
set -eu

run_dir=${GPOOL_RUN_DIR:-/tmp}
# The daemon writes the port it actually bound here (it may listen on port 0); the health
# check reads it.
port_file=$run_dir/gpool.port

role=${1:-}
case "$role" in
  coordinator)
    shift
    rm -f "$port_file"
    exec gpool-coordinator \
      --listen="${GPOOL_LISTEN:-0.0.0.0:50051}" \
      --port_file="$port_file" \
      ${GPOOL_INSECURE:+"--insecure"} \
      ${GPOOL_HEARTBEAT_INTERVAL:+"--heartbeat_interval=$GPOOL_HEARTBEAT_INTERVAL"} \
      ${GPOOL_LEASE_TIMEOUT:+"--lease_timeout=$GPOOL_LEASE_TIMEOUT"} \
      ${GPOOL_HEARTBEAT_BUDGET:+"--heartbeat_budget=$GPOOL_HEARTBEAT_BUDGET"} \
      ${GPOOL_WORKER_WAIT:+"--worker_wait=$GPOOL_WORKER_WAIT"} \
      ${GPOOL_CHUNK_TIMEOUT:+"--chunk_timeout=$GPOOL_CHUNK_TIMEOUT"} \
      ${GPOOL_LOG_LEVEL:+"--log_level=$GPOOL_LOG_LEVEL"} \
      "$@"
    ;;
  worker)
    shift
    if [ -z "${GPOOL_COORDINATOR:-}" ]; then
      echo "gpool-entrypoint: worker needs GPOOL_COORDINATOR=HOST:PORT" >&2
      exit 1
    fi
    advertise_host=${GPOOL_ADVERTISE_HOST:-}
    if [ -z "$advertise_host" ] && [ -n "${GPOOL_ADVERTISE_IP:-}" ]; then
      advertise_host=$(getent ahostsv4 "$(uname -n)" | awk '{ print $1; exit }')
      if [ -z "$advertise_host" ]; then
        echo "gpool-entrypoint: GPOOL_ADVERTISE_IP: no IPv4 address for host name $(uname -n)" >&2
        exit 1
      fi
    fi
    rm -f "$port_file"
    exec gpool-worker \
      --listen="${GPOOL_LISTEN:-0.0.0.0:50052}" \
      --port_file="$port_file" \
      ${GPOOL_INSECURE:+"--insecure"} \
      ${advertise_host:+"--advertise_host=$advertise_host"} \
      ${GPOOL_SLOTS:+"--slots=$GPOOL_SLOTS"} \
      ${GPOOL_CHUNK_DELAY:+"--chunk_delay=$GPOOL_CHUNK_DELAY"} \
      ${GPOOL_LOG_LEVEL:+"--log_level=$GPOOL_LOG_LEVEL"} \
      "$@"
    ;;
  healthcheck)
    # SERVING only: the coordinator once it listens, a worker once it is registered.
    if [ ! -s "$port_file" ]; then
      echo "gpool-entrypoint: no port file $port_file yet" >&2
      exit 1
    fi
    port=$(cat "$port_file")
    host=${GPOOL_LISTEN:-0.0.0.0:0}
    host=${host%:*}
    case "$host" in
      ""|0.0.0.0) host=127.0.0.1 ;;
      "[::]"|"::") host="[::1]" ;;
    esac
    exec gpool health "$host:$port"
    ;;
  credentials)
    # Compose's one-shot `credentials` service runs this as root before any daemon starts.
    # gpool init never overwrites, so credentials that exist are kept: a second `up` reuses
    # them. They are created under DIR.new and renamed into place, so an interrupted run
    # leaves nothing that looks complete. ca.key, which only signs certificates, goes to
    # the root-only directory ca-key next to DIR, out of reach of the daemons (uid 10001).
    dir=${GPOOL_CREDENTIALS:-}
    if [ -z "$dir" ]; then
      echo "gpool-entrypoint: credentials needs GPOOL_CREDENTIALS=DIR" >&2
      exit 1
    fi
    dir=${dir%/}
    if [ -e "$dir/ca.crt" ]; then
      echo "gpool-entrypoint: keeping the credentials in $dir (delete the volume to replace them)"
      exit 0
    fi
    if [ -e "$dir" ]; then
      echo "gpool-entrypoint: $dir exists without ca.crt; remove it or point GPOOL_CREDENTIALS elsewhere" >&2
      exit 1
    fi
    new=$dir.new
    rm -rf "$new"
    set --
    for host in ${GPOOL_CREDENTIAL_HOSTS:-coordinator localhost 127.0.0.1}; do
      set -- "$@" --host "$host"
    done
    # Its "Next:" hints name DIR.new and flags compose already sets: not shown.
    gpool init "$new" "$@" > /dev/null
    ca_key_dir=$(dirname "$dir")/ca-key
    mkdir -p "$ca_key_dir"
    chmod 0700 "$ca_key_dir"
    mv "$new/ca.key" "$ca_key_dir/ca.key"
    chown -R "${GPOOL_CREDENTIALS_OWNER:-10001:10001}" "$new"
    mv "$new" "$dir"
    echo "gpool-entrypoint: credentials created in $dir; the CA's key is in $ca_key_dir"
    ;;
  gpool|gpool-*|sh|bash)
    exec "$@"
    ;;
  *)
    exec gpool "$@"
    ;;
esac

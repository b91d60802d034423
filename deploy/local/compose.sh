#!/usr/bin/env bash
# The compose stack on this machine without registry access: docker-compose.yml with the
# test override deploy/compose.local.yml (every service on the host network, ports on
# 127.0.0.1). What `make compose-up`, `compose-account` and `compose-down` run.
#
#   deploy/local/compose.sh engine             # install the tools, start dockerd if none answers
#   deploy/local/compose.sh up                 # build if needed, start, wait for /readyz
#   deploy/local/compose.sh account NAME CREDITS   # prints the new API key on its last line
#   deploy/local/compose.sh down               # stop, remove the containers and volumes
#   deploy/local/compose.sh compose ARGS...    # any docker-compose command on this stack
#
# Environment: PORT (web, default 8000), UPSCALER_ALLOW_PRIVATE_URLS (tests only),
# BASE_IMAGE (default: python:3.11-slim when the engine already has it, else a Debian
# bookworm base made by build-base.sh; nothing is ever pulled), LOCAL_MODEL_DIR (the model
# weights, mounted read-only), PYTHON (a Python whose pip fills the wheelhouse).
# State (the generated secrets, the wheelhouse, logs) lives in var/compose/.
set -euo pipefail
cd "$(dirname "$0")/../.."

STATE=var/compose
ENV_FILE=$STATE/compose.env
WHEELS=$STATE/wheels
PROJECT=${COMPOSE_PROJECT_NAME:-upscaler-local}
PYTHON=${PYTHON:-python3}
# Fixed: the URL is a build argument, and a new value would invalidate the build cache.
WHEELHOUSE_PORT=${WHEELHOUSE_PORT:-58081}
WHEELHOUSE_URL=http://127.0.0.1:$WHEELHOUSE_PORT/
READY_TIMEOUT=${READY_TIMEOUT:-300}

log() { echo "compose: $*" >&2; }

# The stack as compose runs it: the two files merged with the settings of the last `up`
# (deploy/local/resolve.py says what it changes).
RESOLVED=$STATE/stack.yml

resolve() {
  # Only the env file counts: a SECRET_KEY or DATABASE_URL in the caller's shell (a test
  # run's, say) would otherwise win over it.
  env -i PATH="$PATH" HOME="${HOME:-/root}" ${DOCKER_HOST:+DOCKER_HOST="$DOCKER_HOST"} \
    docker-compose -p "$PROJECT" --project-directory . --env-file "$ENV_FILE" \
    -f docker-compose.yml -f deploy/compose.local.yml config >"$RESOLVED.merged"
  (umask 077 && "$PYTHON" deploy/local/resolve.py <"$RESOLVED.merged" >"$RESOLVED")
  rm -f "$RESOLVED.merged"
}

compose() {
  docker-compose -p "$PROJECT" --project-directory . -f "$RESOLVED" --profile cpu "$@"
}

# Debian's engine, debootstrap and the Python docker-compose, installed when missing (root).
ensure_tools() {
  local missing=""
  command -v dockerd >/dev/null || missing="$missing docker.io"
  command -v docker >/dev/null || missing="$missing docker.io"
  command -v debootstrap >/dev/null || missing="$missing debootstrap"
  command -v docker-compose >/dev/null || missing="$missing docker-compose"
  if [ -n "$missing" ]; then
    log "installing$missing"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
  fi
}

# Starts dockerd when none answers. The one started here has no bridge at all: every
# container and build of this stack is on the host network.
ensure_engine() {
  docker info >/dev/null 2>&1 && return
  mkdir -p "$STATE"
  log "starting dockerd (log: $STATE/dockerd.log)"
  nohup dockerd --bridge=none --iptables=false >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  log "dockerd did not start: see $STATE/dockerd.log"
  exit 1
}

secret() { "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))'; }

# The generated secrets are kept (the database volume holds its password); PORT and
# UPSCALER_ALLOW_PRIVATE_URLS are written at each `up`, so that later commands (account,
# down) see the stack as it was started.
write_env() {
  mkdir -p "$STATE"
  if [ ! -f "$ENV_FILE.secrets" ]; then
    {
      echo "SECRET_KEY=$(secret)"
      echo "POSTGRES_PASSWORD=$(secret)"
      echo "MINIO_ROOT_PASSWORD=$(secret)"
      echo "S3_SECRET_KEY=$(secret)"
      echo "FLOWER_PASSWORD=$(secret)"
    } >"$ENV_FILE.secrets"
    chmod 600 "$ENV_FILE.secrets"
  fi
  local models=${LOCAL_MODEL_DIR:-${UPSCALER_MODEL_DIR:-$PWD/models}}
  {
    cat "$ENV_FILE.secrets"
    echo "PORT=${PORT:-8000}"
    echo "ALLOWED_HOSTS=localhost,127.0.0.1"
    echo "UPSCALER_ALLOW_PRIVATE_URLS=${UPSCALER_ALLOW_PRIVATE_URLS:-false}"
    echo "LOCAL_MODEL_DIR=$(cd "$models" && pwd)"
    echo "BASE_IMAGE=$(base_image)"
    echo "WHEELHOUSE=$WHEELHOUSE_URL"
  } >"$ENV_FILE"
}

base_image() {
  if [ -n "${BASE_IMAGE:-}" ]; then
    echo "$BASE_IMAGE"
  elif docker image inspect python:3.11-slim >/dev/null 2>&1; then
    echo python:3.11-slim
  else
    echo upscaler-python:3.11-bookworm
  fi
}

# Every wheel the images install (base dependencies, the worker extra, moto for the S3
# stand-in, the build backend), made once by the host's pip from its own indexes. pip
# evaluates markers for the Python it runs on, so the base image's pip then resolves the
# same requirements against the wheelhouse, and each package it misses (Debian's 3.11.2
# needs async-timeout, a newer 3.11 does not) is added for that Python.
fill_wheelhouse() {
  local base=$1 reqs target stamp missing
  reqs=$("$PYTHON" - <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))
p = project["project"]
extras = p["optional-dependencies"]
print("\n".join(p["dependencies"] + extras["worker"] + [d for d in extras["test"] if d.startswith("moto")]))
print("\n".join(project["build-system"]["requires"] + ["wheel"]))
PY
)
  target=$(docker run --rm --network host --entrypoint python "$base" -c 'import platform; print(platform.python_version())')
  stamp=$(printf '%s %s' "$reqs" "$target" | sha256sum | cut -c1-16)
  [ -f "$WHEELS/.stamp-$stamp" ] && return
  log "filling the wheelhouse $WHEELS for Python $target (pip, from this machine's indexes)"
  mkdir -p "$WHEELS"
  printf '%s\n' "$reqs" >"$STATE/requirements.txt"
  "$PYTHON" -m pip wheel -q --wheel-dir "$WHEELS" -r "$STATE/requirements.txt" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  for _ in $(seq 20); do
    missing=$(docker run --rm --network host -v "$PWD/$STATE/requirements.txt:/tmp/requirements.txt:ro" \
      --entrypoint pip "$base" install -q --dry-run --no-index --find-links "$WHEELHOUSE_URL" \
      -r /tmp/requirements.txt 2>&1 | sed -n 's/^ERROR: No matching distribution found for \([^;]*\).*/\1/p' | head -n 1 || true)
    if [ -z "$missing" ]; then
      rm -f "$WHEELS"/.stamp-*
      touch "$WHEELS/.stamp-$stamp"
      return
    fi
    log "adding $missing for Python $target"
    "$PYTHON" -m pip wheel -q --wheel-dir "$WHEELS" "$missing" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  done
  log "the wheelhouse is still incomplete for $base"
  exit 1
}

serve_wheelhouse() {
  mkdir -p "$WHEELS"
  "$PYTHON" -m http.server --bind 127.0.0.1 --directory "$WHEELS" "$WHEELHOUSE_PORT" >"$STATE/wheelhouse.log" 2>&1 &
  WHEELHOUSE_SERVER=$!
  trap 'kill $WHEELHOUSE_SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    "$PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $WHEELHOUSE_PORT), 1)" 2>/dev/null && return
    sleep 0.1
  done
  log "the wheelhouse server did not start on 127.0.0.1:$WHEELHOUSE_PORT: see $STATE/wheelhouse.log"
  exit 1
}

build() {
  local base
  base=$(base_image)
  if [ "$base" = upscaler-python:3.11-bookworm ]; then
    deploy/local/build-base.sh "$base"
  fi
  # The wheelhouse on 127.0.0.1 for the length of the build (builds use the host network).
  serve_wheelhouse
  fill_wheelhouse "$base"
  log "building the images (base $base; log: $STATE/build.log)"
  local started=$SECONDS
  if ! compose build >"$STATE/build.log" 2>&1; then
    tail -n 40 "$STATE/build.log" >&2
    exit 1
  fi
  kill "$WHEELHOUSE_SERVER" 2>/dev/null || true
  trap - EXIT
  log "images built in $((SECONDS - started)) s"
}

wait_ready() {
  local url="http://127.0.0.1:${PORT:-8000}/readyz" started=$SECONDS
  while [ $((SECONDS - started)) -lt "$READY_TIMEOUT" ]; do
    if "$PYTHON" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('$url', timeout=5).status != 200)" 2>/dev/null; then
      log "ready: $url"
      return
    fi
    sleep 1
  done
  log "$url did not answer 200 within $READY_TIMEOUT s"
  compose ps >&2 || true
  compose logs --tail=30 >&2 || true
  exit 1
}

case "${1:-}" in
  engine)
    ensure_tools
    ensure_engine
    ;;
  up)
    ensure_tools
    ensure_engine
    write_env
    resolve
    build
    compose up -d --remove-orphans
    wait_ready
    ;;
  account)
    [ $# -ge 3 ] || { log "usage: $0 account NAME CREDITS"; exit 2; }
    compose exec -T web python manage.py create_account "$2" --credits "$3"
    ;;
  down)
    if [ -f "$RESOLVED" ] && command -v docker-compose >/dev/null && docker info >/dev/null 2>&1; then
      compose down -v --remove-orphans
    else
      log "no stack to stop"
    fi
    ;;
  compose)
    shift
    compose "$@"
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Build the benchmark's virtualenvs under bench/peers/.venvs/ (idempotent) and check the stores.
#
# One venv per library, so that no peer's dependencies meet another's or the project's:
#   dataqueue      an editable install of this working tree, extras postgres,redis (whatever
#                  pyproject.toml allows: what a user gets from `pip install dataqueue[...]`)
#   baseline       the bare driver loops: asyncpg, psycopg (binary), redis-py
#   pgqueuer, procrastinate, saq, huey   each peer at a pinned version
# Nothing is installed into the project's own .venv.
#
# Stores: PostgreSQL at $BENCH_PG_DSN and Redis at $BENCH_REDIS_URL (see common.py). The PostgreSQL
# database named in the DSN is created if missing (its public schema is dropped and recreated by
# every measurement: never point it at a database you keep data in); the Redis database number
# is FLUSHDB'd likewise.
#   BENCH_PYTHON=/path/to/python   the interpreter for the venvs (default: the first of
#                                  python3.12, 3.13, 3.11, python3 that runs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"

PY=${BENCH_PYTHON:-}
if [ -z "$PY" ]; then  # the first interpreter that runs and is >= 3.11 (a pyenv shim may not)
  for c in python3.12 python3.13 python3.11 python3; do
    if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      PY=$(command -v "$c"); break
    fi
  done
  [ -n "$PY" ] || { echo "setup: no Python >= 3.11 found; set BENCH_PYTHON" >&2; exit 1; }
fi

declare -A PKGS=(
  [dataqueue]="-e $root[postgres,redis]"
  [baseline]="asyncpg==0.32.0 psycopg[binary]==3.3.9 psycopg-pool==3.3.3 redis==8.1.0"
  [pgqueuer]="pgqueuer==1.6.0 asyncpg==0.32.0 psycopg[binary]==3.3.9"
  [procrastinate]="procrastinate==3.10.0 psycopg[binary]==3.3.9"
  [saq]="saq[redis]==0.26.4 psycopg[binary]==3.3.9"
  [huey]="huey==3.5.4"
)
mkdir -p .venvs
for v in "${!PKGS[@]}"; do
  [ -x ".venvs/$v/bin/python" ] || "$PY" -m venv ".venvs/$v"
  stamp=".venvs/$v/.bench-installed"
  want="${PKGS[$v]}"
  # dataqueue is reinstalled whenever pyproject.toml changed since the last install
  [ "$v" = dataqueue ] && want+=" $(sha1sum "$root/pyproject.toml" | cut -c1-12)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing into .venvs/$v: ${PKGS[$v]}"
    # shellcheck disable=SC2086
    if ! ".venvs/$v/bin/pip" install -q --disable-pip-version-check ${PKGS[$v]} \
      >".venvs/$v/pip.log" 2>&1; then
      cat ".venvs/$v/pip.log" >&2; exit 1
    fi
    echo "$want" > "$stamp"
  fi
done

# The stores must be up; the bench database is created when missing.
.venvs/baseline/bin/python - <<'PY'
import sys

sys.path.insert(0, ".")
import common

try:
    common.pg_create_database()
    common.redis_ping()
except Exception as error:  # one line, not a traceback: this is a setup check
    sys.exit(f"setup: a store is not reachable: {type(error).__name__}: {error}")
PY
echo "setup ok: $("$PY" --version), PostgreSQL $(.venvs/baseline/bin/python -c '
import sys; sys.path.insert(0, "."); import common; print(common.pg_server_version())'), \
Redis $(.venvs/baseline/bin/python -c '
import sys; sys.path.insert(0, "."); import common; print(common.redis_server_version())')"

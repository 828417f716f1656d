#!/usr/bin/env bash
# Python with msgspec for the interoperability tests (tests/interop_test.ts checks our wire codec against
# msgspec, which the Python original uses to encode envelopes), and deltalake + pyarrow (the Delta Lake sink's
# tables are read back by delta-rs in tests/sinks_delta_test.ts).
#
# Creates, once, a virtual environment at .cache/pyenv (inside the repository; .cache is git-ignored) with the
# pinned msgspec, then prints the absolute path of its python on the LAST line of stdout (progress goes to
# stderr). Idempotent and fast (one python start-up) when the environment is already there.
#
# Needs: python3 (3.9+) with the venv module, and access to PyPI (first run only).
#
# Environment:
#   LOOM_PYTHON           base interpreter used to create the venv (default: python3)
#   LOOM_MSGSPEC_VERSION  msgspec version to install (default: the pinned one below)
#   LOOM_DELTALAKE_VERSION / LOOM_PYARROW_VERSION  likewise for deltalake and pyarrow
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="$ROOT/.cache/pyenv"
PY="$VENV/bin/python"
MSGSPEC_VERSION="${LOOM_MSGSPEC_VERSION:-0.22.0}"
DELTALAKE_VERSION="${LOOM_DELTALAKE_VERSION:-1.6.6}"
PYARROW_VERSION="${LOOM_PYARROW_VERSION:-26.0.1}"
BASE_PYTHON="${LOOM_PYTHON:-python3}"

say() { printf 'python-env.sh: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

ready() {
  [ -x "$PY" ] && "$PY" -c "import msgspec, deltalake, pyarrow, sys; sys.exit((msgspec.__version__, \
deltalake.__version__, pyarrow.__version__) != tuple(sys.argv[1:]))" \
    "$MSGSPEC_VERSION" "$DELTALAKE_VERSION" "$PYARROW_VERSION" >/dev/null 2>&1
}

if ready; then
  echo "$PY"
  exit 0
fi

mkdir -p "$ROOT/.cache"
# Serialize concurrent first runs (e.g. two test runtimes started at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ROOT/.cache/pyenv.lock"
  flock 9
  if ready; then
    echo "$PY"
    exit 0
  fi
fi

command -v "$BASE_PYTHON" >/dev/null 2>&1 ||
  die "'$BASE_PYTHON' not found: install Python 3.9+ (with the venv module) or set LOOM_PYTHON to an interpreter"

if [ ! -x "$PY" ] || ! "$PY" -c "import sys" >/dev/null 2>&1; then
  say "creating $VENV with $("$BASE_PYTHON" --version 2>&1)"
  rm -rf "$VENV"
  "$BASE_PYTHON" -m venv "$VENV" >&2 ||
    die "'$BASE_PYTHON -m venv' failed: install the venv module (Debian/Ubuntu: apt-get install python3-venv)"
fi

PKGS=("msgspec==$MSGSPEC_VERSION" "deltalake==$DELTALAKE_VERSION" "pyarrow==$PYARROW_VERSION")
say "installing ${PKGS[*]} into $VENV"
"$PY" -m pip install --disable-pip-version-check --no-input -q "${PKGS[@]}" >&2 ||
  die "pip could not install ${PKGS[*]} (is PyPI reachable? set PIP_INDEX_URL for a mirror)"

ready || die "${PKGS[*]} are still not importable from $PY"
echo "$PY"

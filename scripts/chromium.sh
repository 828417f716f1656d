#!/usr/bin/env bash
# Debian's chromium for the status-page test (tests/admin_page_test.ts, driven by npm playwright-core).
# Usage: scripts/chromium.sh ensure|status. `ensure` installs the package with apt-get when it is missing and
# we may (root, apt-get present, LOOM_AUTO_INSTALL not 0); prints the executable's path. Idempotent.
set -euo pipefail
BIN="${LOOM_CHROMIUM:-/usr/bin/chromium}"
say() { echo "chromium.sh: $*" >&2; }
case "${1:-ensure}" in
  status)
    [ -x "$BIN" ] && echo "$BIN" ;;
  ensure)
    if [ ! -x "$BIN" ] && [ "$(id -u)" = 0 ] && [ "${LOOM_AUTO_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing chromium (apt-get)"
      apt-get update -qq >&2 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2 ||
        { say "apt-get could not install chromium"; exit 1; }
    fi
    [ -x "$BIN" ] || { say "$BIN not found: apt-get install -y chromium (or set LOOM_CHROMIUM)"; exit 1; }
    echo "$BIN" ;;
  *) say "usage: $0 ensure|status"; exit 2 ;;
esac

#!/usr/bin/env bash
# The project's pinned Deno (node_modules/deno, installed by scripts/setup.sh when missing). deno.json tasks
# call it instead of a bare `deno`: `deno task` puts node_modules/.bin first on PATH and would try to run the
# npm package's native binary as a script.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$root/node_modules/deno/deno" ] || bash "$root/scripts/setup.sh" >&2
exec "$root/node_modules/deno/deno" "$@"

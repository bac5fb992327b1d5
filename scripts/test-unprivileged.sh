#!/usr/bin/env bash
# Runs the local runtime's tests as an ordinary (non-root) user, next to the main run as root: PostgreSQL
# and service instances then run as that user itself, without switching users. As a non-root user this
# does nothing (the main run already was unprivileged). Needs the checkout built (npm run build) and
# readable by other users (the embedded PostgreSQL already runs from node_modules as msp-postgres).
# The user is a system user without login or home, kept for the next run (like msp-postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
user=msp-test-user
if [ "$(uname -s)" != Linux ]; then
  echo "test-unprivileged: only on Linux (elsewhere MSP as root is refused or untested: see README, Platforms)"
  exit 0
fi
if ! command -v runuser >/dev/null; then
  echo "test-unprivileged: needs runuser (util-linux) to run the tests as $user" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "test-unprivileged: running as $(id -un) already: the main test run covered it"
  exit 0
fi
files=(
  packages/runtime-local/dist/platform.test.js
  packages/runtime-local/dist/private-files.test.js
  packages/runtime-local/dist/postgres/cluster.test.js
  packages/runtime-local/dist/process/supervisor.test.js
  packages/runtime-local/dist/artifacts/artifact-store.test.js
)
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>/dev/null || id -u "$user" >/dev/null
fi
as_user() { runuser -u "$user" -- "$@"; }
for file in package.json "${files[@]}"; do
  if ! as_user test -r "$checkout/$file"; then
    echo "test-unprivileged: $user cannot read $checkout/$file: make the checkout readable by others (chmod o+rX on it and its parents)" >&2
    exit 1
  fi
done
scratch=$(mktemp -d /tmp/msp-unprivileged-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chown "$user" "$scratch"
echo "test-unprivileged: ${#files[@]} runtime test files as $user"
as_user env -i PATH="$PATH" HOME="$scratch" TMPDIR="$scratch" NODE_ENV=test \
  "$(command -v node)" --enable-source-maps --test --test-concurrency=1 --test-reporter=${MSP_TEST_REPORTER:-dot} "${files[@]/#/$checkout/}"

#!/usr/bin/env bash
# One-time set-up of a machine for orch development, tests and the sandbox:
# installs nginx (Debian/Ubuntu package nginx-light), openssl, rclone, a C toolchain (make, g++,
# python3: for orch's splice relay) and nanio's Python packages when missing, then the npm dependencies from the lockfile. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
# The splice relay (a small Node-API addon of orch's, built by npm ci) needs a C toolchain.
command -v make >/dev/null 2>&1 || need+=(make)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# nanio, the real S3 pool server the tests run (../shared/nanio/serve.sh), runs on Debian's Python
# packages (Python >= 3.11).
if [ -d ../shared/nanio ] || [ -n "${ORCH_NANIO_DIR:-}" ]; then
  py=/usr/bin/python3; [ -x "$py" ] || py=python3
  "$py" -c 'import starlette, uvicorn, defusedxml' >/dev/null 2>&1 ||
    need+=(python3 python3-starlette python3-uvicorn python3-defusedxml python3-aiofiles python3-anyio)
fi
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Please install: ${need[*]} (orch's tests drive a real nginx)." >&2
    exit 1
  fi
fi
# Debian's nginx package starts a system nginx on port 80; orch's tests and sandbox use their own
# private nginx on loopback ports and never touch it.
export PATH="$PATH:/usr/sbin"
nginx -v
# npm ci deletes and reinstalls node_modules: skipped when the last successful one was of this
# very lockfile, Node version and machine (a stamp in node_modules), so a second run does nothing.
stamp=node_modules/.orch-setup-stamp
want="$( { cat package-lock.json package.json 2>/dev/null; node -p 'process.version + process.arch + process.platform'; } | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && { [ "$(uname)" != Linux ] || [ -f src/adapters/s3/native/build/Release/orch_splice.node ]; }; then
  echo "npm dependencies: up to date (node_modules matches package-lock.json)"
else
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  echo "$want" > "$stamp"
fi

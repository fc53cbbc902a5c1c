#!/bin/sh
# orch-gateway: the only thing a deploy runner on the gateway may run as root (docs/ci.md).
# Install it root-owned, and allow exactly it in sudoers:
#
#   install -o root -g root -m 0755 orch-gateway.sh /usr/local/sbin/orch-gateway
#   echo 'ci-runner ALL=(root) NOPASSWD: /usr/local/sbin/orch-gateway' > /etc/sudoers.d/orch-gateway
#
# Usage:
#   orch-gateway plan MANIFESTS_DIR    plan against the live gateway; saves the plan for `apply`
#                                      exit 0: no changes, 2: changes saved for apply, 1: error
#   orch-gateway apply MANIFESTS_DIR   apply exactly the saved plan; exit 4 if anything it was
#                                      computed from changed since (plan again)
#   orch-gateway tree                  the live pools/ and vhosts/ as a tar stream on stdout
#                                      (baseline for pull request plans; no secrets in clear)
#
# orch runs as root with the daemon's config file and pool credential variables, like the
# daemon. The plan file is kept in a root-only directory, never in the runner's workspace.
set -eu

ORCH_CONFIG=${ORCH_CONFIG:-/etc/orch/config.yaml}
ENV_FILE=${ORCH_ENV_FILE:-/etc/orch/orch.env}
DEPLOY_DIR=${ORCH_DEPLOY_DIR:-/var/lib/orch-deploy}
NGINX_DIR=${ORCH_DEPLOY_NGINX_DIR:-/etc/nginx/orch}
export ORCH_CONFIG

usage() {
  echo "usage: orch-gateway plan|apply MANIFESTS_DIR | orch-gateway tree" >&2
  exit 1
}

if [ -r "$ENV_FILE" ]; then
  set -a
  . "$ENV_FILE"
  set +a
fi
umask 077
mkdir -p "$DEPLOY_DIR"
plan="$DEPLOY_DIR/gateway.plan"

# orch writes each manifest's path into the files it generates, relative to the working directory:
# run it from the directory holding the manifests directory, as the daemon does (its unit's
# WorkingDirectory) and as CI does (the repository root), so that all of them render the same files.
manifests() {
  [ -d "${1:-}" ] || usage
  dir=$(cd "$1" && pwd)
  cd "$(dirname "$dir")"
  name=$(basename "$dir")
}

case "${1:-}" in
  plan)
    manifests "${2:-}"
    rm -f "$plan"
    exec orch plan -m "$name" --detailed-exitcode --out "$plan"
    ;;
  apply)
    manifests "${2:-}"
    [ -f "$plan" ] || { echo "orch-gateway: no saved plan; run 'orch-gateway plan' first" >&2; exit 1; }
    exec orch apply -m "$name" "$plan"
    ;;
  tree)
    # pools/ and vhosts/ are symlinks into the live generation: -h stores what they lead to.
    exec tar -C "$NGINX_DIR" -chf - pools vhosts
    ;;
  *)
    usage
    ;;
esac

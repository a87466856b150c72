#!/usr/bin/env bash
# Install the Debian packages pgerp needs, only those missing; apt-get update
# only when something is missing. Uses sudo when not root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

packages=(make gcc libc6-dev perl openssl
          postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap
          libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
          libssl-dev libjson-c-dev libmicrohttpd-dev libpwquality-dev cracklib-runtime
          sqlsmith libpq-dev wrk clang libclang-rt-14-dev
          postgresql-15-auto-failover pg-auto-failover-cli pgbackrest bc)
# Node.js and npm for the client compatibility suite (test/clients/): only
# when no node is on the PATH (a NodeSource node carries its own npm).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
say "installing Debian packages: ${missing[*]}"
sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

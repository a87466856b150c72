#!/usr/bin/env bash
# scripts/private_pg.sh DIR: a private copy of the Debian PostgreSQL 15
# installation under DIR (binaries, share, server headers, pgTAP and pg_cron
# included). PostgreSQL finds its share directory relative to its binaries,
# so `PGERP_PGBIN=DIR/usr/lib/postgresql/15/bin make test` builds, installs
# and tests into that copy without touching the system one: several
# checkouts (worktrees) can then run their suites at the same time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
dir=${1:?usage: scripts/private_pg.sh DIR}
mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql" "$dir/usr/include"
cp -a "/usr/lib/postgresql/$PG_MAJOR" "$dir/usr/lib/postgresql/"
cp -a "/usr/share/postgresql/$PG_MAJOR" "$dir/usr/share/postgresql/"
cp -a /usr/include/postgresql "$dir/usr/include/"
is_root && chmod 755 "$dir" "$dir/usr"
echo "PGERP_PGBIN=$dir/usr/lib/postgresql/$PG_MAJOR/bin"

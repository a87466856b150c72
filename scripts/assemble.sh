#!/usr/bin/env bash
# Assemble one extension install script: the guard line, then every file the
# manifest lists, in its order. Unknown or missing files stop the build.
set -euo pipefail
ext=$1 manifest=$2 out=$3
{
  printf -- '-- generated from %s by scripts/assemble.sh: do not edit\n' "$manifest"
  printf '\\echo Use "CREATE EXTENSION %s" to load this file. \\quit\n' "$ext"
  while IFS= read -r line || [ -n "$line" ]; do
    f=${line%%#*}; f=${f//[[:space:]]/}
    [ -n "$f" ] || continue
    [ -f "$f" ] || { echo "assemble: $manifest lists $f, which does not exist" >&2; exit 1; }
    printf '\n-- %s\n' "$f"
    cat "$f"
  done < "$manifest"
} > "$out.tmp"
mv "$out.tmp" "$out"

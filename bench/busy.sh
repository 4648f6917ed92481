#!/usr/bin/env bash
# The busy shape against rg, side by side: `crashdsr search` and
# `rg -c -F -i -f` with the same values, for 1 and 100 subjects (those of
# bench/lib.sh), on bench/memory.sh's corpus at 1× (the emulator's tidy
# style, a day of errors: each minute's logs.v1.data holds every record of
# that minute beside its crash and error blobs). The page cache warm, and
# with COLD=1 also dropped before each run (needs root). BASE=binary adds
# an older build to each comparison.
#
#   WORK=/tmp/sb bash bench/busy.sh
#   WORK=/tmp/sb COLD=1 BASE=/tmp/crashdsr-old bash bench/busy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
setup rg hyperfine
corpus busy-1 "${BASE_ERRORS:-36000}" 0 1 tidy
subjects "$work/busy-1" 1 100
dir=$work/busy-1/export/archive

for n in 1 100; do
  subjects=$work/busy-1/subjects-$n.jsonl
  cmds=(-n "crashdsr, $n subjects" "$bin --no-progress search --source $dir --subjects $subjects --json")
  if [ -n "${BASE:-}" ]; then
    cmds+=(-n "base, $n subjects" "$BASE --no-progress search --source $dir --subjects $subjects --json")
  fi
  cmds+=(-n "rg, $n subjects" "rg -c -F -i -f $work/busy-1/patterns-$n.txt $dir")
  hyperfine -N -i --warmup 2 --runs "${RUNS:-10}" "${cmds[@]}"
  if [ -n "${COLD:-}" ]; then
    hyperfine -N -i --runs "${COLD_RUNS:-5}" \
      --prepare 'sh -c "sync; echo 3 > /proc/sys/vm/drop_caches"' "${cmds[@]}"
  fi
done
[ -n "${WORK:-}" ] || rm -rf "$work"

#!/usr/bin/env bash
# Planning a purge of a crawl archive as it grows: peak RSS and wall time of
# `crashdsr purge --plan-out` over synthetic archives of 60,000 and 180,000
# archived crashes (four objects each: the crash log with its time, the
# details, two attachments in a subfolder), each crash dated in one of ten
# months so that about 60% of them are older than the cut-off. With BASE
# set to another crashdsr binary, it runs beside this build on the same
# archives, and the two plans' object lists are compared.
#
#   bash bench/purge-archive.sh                          # archives in a temp dir
#   WORK=/tmp/pa BASE=/tmp/crashdsr-old bash bench/purge-archive.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
setup

for crashes in 60000 180000; do
  dir=$work/archive-$crashes
  if [ ! -d "$dir" ]; then
    python3 - "$dir" "$crashes" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    f = f"{root}/apps/contoso/demo-app/errors/{2517000000000000000 + i}-{i:08x}-0000-4000-8000-{i:012x}"
    os.makedirs(f + "/attachments", exist_ok=True)
    t = "2026-%02d-%02dT10:00:00Z" % (1 + i % 10, 1 + i % 28)
    open(f + "/download.json", "w").write('{"errorId":"x","timestamp":"%s","userId":"u%d"}' % (t, i))
    open(f + "/details.json", "w").write('{"exception":"x"}')
    open(f + "/attachments/a.txt", "w").write("log line\n")
    open(f + "/attachments/b.bin", "w").write("bin")
PY
  fi
  for b in ${BASE:-} "$bin"; do
    # A warm-up, then one timed run (a plan is never overwritten).
    rm -f "$work/plan.jsonl"
    "$b" --no-progress purge --source "$dir" --older-than 150d --as-of 2026-12-06 --plan-out "$work/plan.jsonl" >/dev/null 2>&1
    rm -f "$work/plan.jsonl"
    /usr/bin/time -f "%e %M" -o "$work/t" "$b" --no-progress purge --source "$dir" --older-than 150d --as-of 2026-12-06 --plan-out "$work/plan.jsonl" >/dev/null 2>&1
    read -r secs kib <"$work/t"
    objects=$(grep -o '"object":"[^"]*"' "$work/plan.jsonl" | sort | sha256sum | cut -c1-12)
    echo "$((crashes * 4)) archived objects, $b: $secs s, peak RSS $((kib / 1024)) MiB, $(tail -1 "$work/plan.jsonl" | grep -o '"deletes":[0-9]*'), objects $objects"
  done
done
[ -n "${WORK:-}" ] || rm -rf "$work"

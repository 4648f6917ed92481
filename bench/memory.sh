#!/usr/bin/env bash
# Peak RSS of `crashdsr search` as the export grows: one shape at 1×, 3× and
# 10× its size, one subject (jane from the ground truth: e-mail, user id,
# name), beside `rg -c -F -i -f` with the same values on the same bytes.
# The shape is the emulator's tidy style with busy minutes: a day of
# errors, so each minute folder's logs.v1.data holds every record of that
# minute (several MB at 10×) beside its crash and error blobs.
#
#   bash bench/memory.sh                          # corpora in a temp dir
#   WORK=/tmp/mb BASE_ERRORS=36000 bash bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
setup rg
base=${BASE_ERRORS:-36000}

for x in 1 3 10; do
  corpus "busy-$x" $((base * x)) 0 1 tidy
  python3 - "$work/busy-$x" <<'PY'
import json, sys
work = sys.argv[1]
truth = json.load(open(f"{work}/truth.json"))
jane = next(s for s in truth["subjects"] if s["label"] == "jane")
ids = [i for i in jane["identifiers"] if i["type"] in ("email", "user-id", "name")]
open(f"{work}/subjects.jsonl", "w").write(json.dumps({"label": "jane", "identifiers": ids}) + "\n")
open(f"{work}/patterns.txt", "w").write("".join(i["value"] + "\n" for i in ids))
PY
done

echo
echo "| size | objects | MB | crashdsr search | peak RSS | rg -c -F -i -f | rg peak RSS |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for x in 1 3 10; do
  dir=$work/busy-$x/export/archive
  objects=$(find "$dir" -type f | wc -l)
  mb=$(du -sm "$dir" | cut -f1)
  # A warm-up of each, then one timed run of each.
  "$bin" --no-progress search --source "$dir" --subjects "$work/busy-$x/subjects.jsonl" --json >/dev/null || true
  rg -c -F -i -f "$work/busy-$x/patterns.txt" "$dir" >/dev/null || true
  /usr/bin/time -f "%e %M" -o "$work/t1" "$bin" --no-progress search --source "$dir" --subjects "$work/busy-$x/subjects.jsonl" --json >/dev/null || true
  /usr/bin/time -f "%e %M" -o "$work/t2" rg -c -F -i -f "$work/busy-$x/patterns.txt" "$dir" >/dev/null || true
  read -r s1 k1 <"$work/t1"
  read -r s2 k2 <"$work/t2"
  echo "| ${x}× | $objects | $mb | $s1 s | $((k1 / 1024)) MiB | $s2 s | $((k2 / 1024)) MiB |"
done
[ -n "${WORK:-}" ] || rm -rf "$work"

#!/usr/bin/env bash
# crashdsr erase and purge on the two corpora of bench/search.sh (continuous
# exports the emulator writes in App Center's .NET style, about 1.1 GB each):
#   large: 40,000 errors over 28 days, 16 KiB of filler in attachments;
#   small: 105,000 errors over 90 days, no filler (many small objects).
# On a fresh copy of each corpus, with the release build:
#   erase: one person (jane of the ground truth): the plan, then --apply
#          (journal, rewrites, deletes, the re-scan, the sealed receipt);
#   purge: everything older than half the corpus's span: the plan, then
#          --apply.
# Side by side in the same run, the floors they stand on: `crashdsr search`
# for the same person (the read the erase plan does) and `rm -rf` of the
# same day folders the purge deletes (the file system's own cost). Peak RSS
# and wall time from GNU time.
#
#   bash bench/erase.sh                        # corpora in a temp dir
#   WORK=/tmp/sb bash bench/erase.sh           # reuse bench/search.sh's corpora
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
setup

# `timed LABEL CMD...`: one run under GNU time; prints wall time and peak RSS.
timed() {
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
    local rc=$?
    # erase/purge exit 1 when something was left alone: shown, not fatal.
    [ $rc -eq 1 ] || { cat "$work/err" >&2; exit $rc; }
  }
  read -r secs kib <"$work/time"
  printf '%-58s %8s s %6s MiB\n' "$label" "$secs" "$((kib / 1024))"
}

fresh() { rm -rf "$work/copy" && cp -a "$work/$1/export/archive" "$work/copy"; }

run() {
  local c=$1 span=$2
  local subjects=$work/$c/jane.jsonl
  python3 - "$work/$c" <<'PY'
import json, sys
work = sys.argv[1]
truth = json.load(open(f"{work}/truth.json"))
jane = next(s for s in truth["subjects"] if s["label"] == "jane")
with open(f"{work}/jane.jsonl", "w") as f:
    f.write(json.dumps({"label": "jane", "identifiers": jane["identifiers"]}) + "\n")
PY
  local w=$work/w-$c
  rm -rf "$w"

  fresh "$c"
  timed "$c: search jane (the floor of the plan)" "$bin" --work-dir "$w" search --source "$work/copy" --subjects "$subjects"
  timed "$c: erase jane, plan" "$bin" --work-dir "$w" erase --source "$work/copy" --subjects "$subjects" --plan-out "$w/erase.json"
  echo "   $(head -1 "$work/out")"
  timed "$c: erase jane, --apply (with re-scan and receipt)" "$bin" --work-dir "$w" --no-progress erase --apply "$w/erase.json" --subjects "$subjects"
  echo "   $(tail -1 "$work/out" | sed 's/^[^:]*: //')"

  # Purge: the newest day in the corpus, plus one, is "now"; half the span goes.
  local newest as_of days
  newest=$(cd "$work/copy" && find . -mindepth 3 -maxdepth 3 -type d | sort | tail -1 | cut -c3-)
  as_of=$(date -u -d "${newest//\//-} + 1 day" +%Y-%m-%d)
  days=$((span / 2))
  fresh "$c"
  timed "$c: purge older than ${days}d, plan" "$bin" --work-dir "$w" purge --source "$work/copy" --older-than "${days}d" --as-of "$as_of" --plan-out "$w/purge.json"
  echo "   $(head -1 "$work/out")"
  timed "$c: purge older than ${days}d, --apply" "$bin" --work-dir "$w" --no-progress purge --apply "$w/purge.json"
  echo "   $(tail -1 "$work/out" | sed 's/^[^:]*: //')"
  # The floor: rm -rf of the day folders before the cut-off, on a fresh copy.
  fresh "$c"
  local cut
  cut=$(date -u -d "$as_of - $days days" +%Y/%m/%d)
  (cd "$work/copy" && find . -mindepth 3 -maxdepth 3 -type d | cut -c3- | sort | awk -v c="$cut" '$0 < c') >"$work/days"
  timed "$c: rm -rf of the same $(wc -l <"$work/days") day folders (the floor)" bash -c "cd '$work/copy' && xargs rm -rf < '$work/days'"
  rm -rf "$work/copy" "$w"
}

corpus large "${ERRORS:-40000}" "${PAD_KIB:-16}" 28
corpus small "${ERRORS_SMALL:-105000}" 0 90
run large 28
run small 90
[ -n "${WORK:-}" ] || rm -rf "$work"

#!/usr/bin/env bash
# The index against the full scan, side by side, on the corpora of
# bench/search.sh (large: about 1 GB with padded attachments; small: 400k+
# objects under 2 KB) and, with BIG=1, a generated export of 10 GB or more:
#   build time against one full search (1 subject);
#   index size against the export's;
#   search --index (and with --trust-folder-times) against search, for 1
#   and 100 subjects (hyperfine);
#   update after one more hour of data against the build.
#
#   bash bench/index.sh                             # corpora in a temp dir
#   WORK=/tmp/sb RUNS=5 bash bench/index.sh         # keep and reuse them
#   WORK=/tmp/sb BIG=1 bash bench/index.sh          # also the 10 GB export
#   WORK=/tmp/sb BIG=1 CORPORA= RUNS=1 bash bench/index.sh   # that one alone
#
# BASE=binary also builds that (older) binary's index of each corpus and
# runs its narrowed searches beside this build's, after checking that both
# print the same --json lines.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
setup hyperfine
corpora=${CORPORA-large small}
case " $corpora " in *" large "*) corpus large "${ERRORS:-40000}" "${PAD_KIB:-16}" 28 ;; esac
case " $corpora " in *" small "*) corpus small "${ERRORS_SMALL:-105000}" 0 90 ;; esac
if [ -n "${BIG:-}" ]; then
  corpus big "${ERRORS_BIG:-400000}" 16 90
  corpora="$corpora big"
fi
key=$work/index.key
[ -f "$key" ] || "$bin" index keygen "$key"
export CRASHDSR_INDEX_KEY_FILE=$key

for c in $corpora; do
  src=$work/$c/export/archive
  idx=$work/$c/index
  subjects "$work/$c" 1 100
  # 1. Build, beside one full search. (The folders settle first: a folder
  #    changed in the 2 s before a listing is not stamped.)
  rm -rf "$idx"
  sleep 2
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f "%e %M" -o "$work/t-search" "$bin" search --source "$src" --subjects "$work/$c/subjects-1.jsonl" --json >/dev/null || true
  /usr/bin/time -f "%e %M" -o "$work/t-build" "$bin" --no-progress --work-dir "$work/wd" index build --source "$src" --index "$idx" --json >"$work/$c/build.json"
  read -r s_secs s_kib <"$work/t-search"
  read -r b_secs b_kib <"$work/t-build"
  # The export's bytes are its objects' (the build counts them); du would
  # add the folders' own blocks.
  export_bytes=$(python3 -c "import json; print(json.load(open('$work/$c/build.json'))['bytes'])")
  index_bytes=$(du -sb "$idx" | cut -f1)
  echo "$c: full search $s_secs s (peak RSS $((s_kib / 1024)) MiB); index build $b_secs s (peak RSS $((b_kib / 1024)) MiB), $(python3 -c "print(f'{$b_secs/$s_secs:.2f}')")x the search"
  echo "$c: objects $export_bytes bytes, index $index_bytes bytes: $(python3 -c "print(f'{100*$index_bytes/$export_bytes:.1f}')")% of the export"
  echo "$c: build report: $(python3 -c "import json; r=json.load(open('$work/$c/build.json')); r.pop('segments_built'); print(json.dumps(r))")"
  if [ -n "${BASE:-}" ]; then
    rm -rf "$idx-base"
    /usr/bin/time -f "%e" -o "$work/t-base" "$BASE" --no-progress --work-dir "$work/wd" index build --source "$src" --index "$idx-base" --json >/dev/null
    echo "$c: base's index build $(cat "$work/t-base") s, $(du -sb "$idx-base" | cut -f1) bytes"
  fi
  # 2. Searches, side by side.
  # The 10 GB export's full search (3–4 minutes) is the one of step 1, not
  # repeated here.
  for n in 1 100; do
    full=(-n "search ($c, $n subjects)" "$bin search --source $src --subjects $work/$c/subjects-$n.jsonl --json > /dev/null")
    [ "$c" != big ] || full=()
    base=()
    if [ -n "${BASE:-}" ]; then
      for trust in "" --trust-folder-times; do
        for pair in "$BASE $idx-base" "$bin $idx"; do
          read -r exe ix <<<"$pair"
          "$exe" search --source "$src" --subjects "$work/$c/subjects-$n.jsonl" --index "$ix" $trust --json 2>/dev/null | grep -v '"kind":"index"' >"$work/out-$(basename "$ix")" || true
        done
        cmp -s "$work/out-index-base" "$work/out-index" || { echo "$c, $n subjects $trust: the base's answer differs" >&2; exit 1; }
      done
      base=(-n "base: search --index ($c, $n subjects)" "$BASE search --source $src --subjects $work/$c/subjects-$n.jsonl --index $idx-base --json > /dev/null"
        -n "base: search --index --trust-folder-times ($c, $n subjects)" "$BASE search --source $src --subjects $work/$c/subjects-$n.jsonl --index $idx-base --trust-folder-times --json > /dev/null")
    fi
    hyperfine --warmup 1 --runs "${RUNS:-5}" -i --export-markdown "$work/$c-index-$n.md" \
      "${full[@]}" "${base[@]}" \
      -n "search --index ($c, $n subjects)" "$bin search --source $src --subjects $work/$c/subjects-$n.jsonl --index $idx --json > /dev/null" \
      -n "search --index --trust-folder-times ($c, $n subjects)" "$bin search --source $src --subjects $work/$c/subjects-$n.jsonl --index $idx --trust-folder-times --json > /dev/null"
    cat "$work/$c-index-$n.md"
  done
  "$bin" search --source "$src" --subjects "$work/$c/subjects-1.jsonl" --index "$idx" --trust-folder-times --json | grep '"kind":"index"' || true
  # Peak memory of one narrowed search of each kind.
  for trust in "" --trust-folder-times; do
    /usr/bin/time -f "%e %M" -o "$work/t-narrowed" "$bin" search --source "$src" --subjects "$work/$c/subjects-1.jsonl" --index "$idx" $trust --json >/dev/null 2>&1 || true
    read -r n_secs n_kib <"$work/t-narrowed"
    echo "$c: search --index $trust, 1 subject: $n_secs s, peak RSS $((n_kib / 1024)) MiB"
  done
  # 3. One more hour of data: the newest hour's folders copied an hour on,
  #    then an update, beside the build.
  newest=$(cd "$src" && find . -mindepth 4 -maxdepth 4 -type d | sort | tail -1)
  next=$(python3 -c "
import datetime, sys
p = sys.argv[1].lstrip('./').split('/')
t = datetime.datetime(int(p[0]), int(p[1]), int(p[2]), int(p[3])) + datetime.timedelta(hours=3)
print(t.strftime('%Y/%m/%d/%H'))" "$newest")
  rm -rf "${src:?}/$next"; mkdir -p "$src/$next"
  cp -r "$src/$newest/." "$src/$next/"
  added=$(find "$src/$next" -type f | wc -l)
  /usr/bin/time -f "%e %M" -o "$work/t-update" "$bin" --no-progress --work-dir "$work/wd" index update --source "$src" --index "$idx" --json >"$work/$c/update.json"
  read -r u_secs u_kib <"$work/t-update"
  echo "$c: update after one more hour ($added objects): $u_secs s, $(python3 -c "print(f'{$u_secs/$b_secs:.3f}')")x the build; $(python3 -c "import json; r=json.load(open('$work/$c/update.json')); print(json.dumps({k: r[k] for k in ('built', 'kept', 'objects_read', 'bytes_read')}))")"
  rm -rf "${src:?}/$next"
  "$bin" --no-progress --work-dir "$work/wd" index update --source "$src" --index "$idx" --json >/dev/null
done
[ -n "${WORK:-}" ] || rm -rf "$work"

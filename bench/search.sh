#!/usr/bin/env bash
# crashdsr search against ripgrep, side by side with hyperfine, on two
# exports the emulator writes in App Center's .NET style:
#   large: about 1 GB, with 16 KiB of filler in text and binary attachments;
#   small: at least 400k objects averaging under 2 KB (one crash a minute over
#          90 days, log blobs of one to four records), over a million
#          device-log records;
# for 1, 100 and 10,000 subjects (e-mail, user id, name each); then peak RSS
# and the attribution index of each crashdsr run. Needs rg and hyperfine
# (Debian: apt-get install ripgrep hyperfine).
#
#   bash bench/search.sh                       # corpora in a temp dir
#   WORK=/tmp/sb RUNS=5 bash bench/search.sh   # keep and reuse the corpora
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
setup rg hyperfine

# 1. The corpora.
corpus large "${ERRORS:-40000}" "${PAD_KIB:-16}" 28
corpus small "${ERRORS_SMALL:-105000}" 0 90

# 2. Subjects: jane from the truth, then synthetic people (absent from the
#    corpus, three identifiers each) up to 100 and 10,000; rg gets the same
#    identifier values.
for c in large small; do subjects "$work/$c" 1 100 10000; done

# 3. Side by side.
for c in large small; do
  for n in 1 100 10000; do
    hyperfine --warmup 1 --runs "${RUNS:-5}" -i --export-markdown "$work/$c-$n.md" \
      -n "crashdsr search ($c, $n subjects)" "$bin search --source $work/$c/export/archive --subjects $work/$c/subjects-$n.jsonl --json > /dev/null" \
      -n "rg -c -F -i -f ($c, $n subjects)" "rg -c -F -i -f $work/$c/patterns-$n.txt $work/$c/export/archive > /dev/null"
    cat "$work/$c-$n.md"
  done
done

# 4. Peak memory, and what the index holds.
for c in large small; do
  for n in 1 10000; do
    /usr/bin/time -f "%M %e" -o "$work/time" "$bin" search --source "$work/$c/export/archive" --subjects "$work/$c/subjects-$n.jsonl" >"$work/out" || true
    read -r kib secs <"$work/time"
    echo "crashdsr search, $c, $n subjects: peak RSS $((kib / 1024)) MiB, $secs s; $(head -1 "$work/out")"
  done
done
[ -n "${WORK:-}" ] || rm -rf "$work"

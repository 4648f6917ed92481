#!/usr/bin/env bash
# crashdsr search against ripgrep on the same >= 1 GB export and the same
# identifiers, side by side with hyperfine, for 1, 100 and 10,000 subjects;
# then peak RSS of each crashdsr run. Needs rg and hyperfine (Debian:
# apt-get install ripgrep hyperfine).
#
#   bash bench/search.sh                # ~1.3 GB corpus in a temp dir
#   ERRORS=40000 PAD_KIB=32 bash bench/search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rg >/dev/null && command -v hyperfine >/dev/null || { echo "needs rg and hyperfine" >&2; exit 2; }
cargo build --release --locked -p crashdsr >/dev/null 2>&1
bin=$PWD/target/release/crashdsr
work=${WORK:-$(mktemp -d)}
errors=${ERRORS:-20000}
pad=${PAD_KIB:-64}
mkdir -p "$work"

# 1. The corpus: the emulator's standard export into a directory (kept and
#    reused when WORK names a folder that has it).
if [ ! -d "$work/export/archive" ]; then
"$bin" emulator --addr 127.0.0.1:0 --token bench --seed 7 --errors "$errors" --attachment-padding-kib "$pad" \
  --export-dir "$work/export" --truth "$work/truth.json" >"$work/emu.out" 2>/dev/null &
emu=$!
trap 'kill $emu 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$work/emu.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/emu.out")
export APPCENTER_API_TOKEN=bench
"$bin" --base-url "$base" export-config create --app contoso/demo-app --subscription-id bench --json >/dev/null
until "$bin" --base-url "$base" export-config list --app contoso/demo-app --json | grep -q '"Enabled"'; do sleep 1; done
kill $emu; trap - EXIT
fi
corpus="$work/export/archive"
echo "corpus: $(du -sh "$corpus" | cut -f1), $(find "$corpus" -type f | wc -l) files"

# 2. Subjects: jane from the truth, then synthetic people (absent from the
#    corpus) up to 100 and 10,000; rg gets the same identifier values.
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
truth = json.load(open(f"{work}/truth.json"))
jane = next(s for s in truth["subjects"] if s["label"] == "jane")
def synthetic(i):
    return {"label": f"p{i}", "identifiers": [
        {"type": "email", "value": f"person{i}.nobody@example.org"},
        {"type": "user-id", "value": f"zz-{i:06d}"},
        {"type": "phone", "value": f"+49 151 {i:08d}"}]}
for n in (1, 100, 10000):
    subjects = [{"label": "jane", "identifiers": jane["identifiers"]}] + [synthetic(i) for i in range(n - 1)]
    with open(f"{work}/subjects-{n}.jsonl", "w") as f:
        for s in subjects:
            f.write(json.dumps(s) + "\n")
    with open(f"{work}/patterns-{n}.txt", "w") as f:
        for s in subjects:
            for i in s["identifiers"]:
                f.write(i["value"] + "\n")
PY

# 3. Side by side.
for n in 1 100 10000; do
  hyperfine --warmup 1 --runs ${RUNS:-10} -i --export-markdown "$work/search-$n.md" \
    -n "crashdsr search ($n subjects)" "$bin search --source $corpus --subjects $work/subjects-$n.jsonl --json > /dev/null" \
    -n "rg -F -f ($n subjects)" "rg -F -f $work/patterns-$n.txt $corpus > /dev/null"
  cat "$work/search-$n.md"
done

# 4. Peak memory.
for n in 1 100 10000; do
  /usr/bin/time -f "%M %e" -o "$work/time" "$bin" search --source "$corpus" --subjects "$work/subjects-$n.jsonl" --json >"$work/out-$n.jsonl" || true
  read -r kib secs <"$work/time"
  echo "crashdsr search, $n subjects: peak RSS $((kib / 1024)) MiB, $secs s, $(wc -l <"$work/out-$n.jsonl") evidence lines"
done
[ -n "${WORK:-}" ] || rm -rf "$work"

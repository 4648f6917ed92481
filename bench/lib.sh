# Shared by the bench scripts, sourced from the repository's root.
#
# `setup TOOL…`: stops unless each TOOL is installed, builds the release
# binary into $bin and makes $work (WORK, or a temporary directory).
setup() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "needs $t (Debian: apt-get install ${t/#rg/ripgrep})" >&2; exit 2; }
  done
  cargo build --release --locked -p crashdsr >/dev/null 2>&1
  bin=$PWD/target/release/crashdsr
  work=${WORK:-$(mktemp -d)}
  mkdir -p "$work"
}

# `corpus NAME ERRORS PADDING_KIB DAYS [STYLE]`
# writes the emulator's export (seed 7, .NET style unless STYLE says `tidy`)
# into $work/NAME/export and its
# ground truth into $work/NAME/truth.json, with the release binary $bin;
# kept and reused when $work already has it.
corpus() {
  local dir=$work/$1
  if [ ! -d "$dir/export/archive" ]; then
    mkdir -p "$dir"
    "$bin" emulator --addr 127.0.0.1:0 --token bench --seed 7 --errors "$2" --attachment-padding-kib "$3" \
      --span-days "$4" --export-style "${5:-dotnet}" --export-dir "$dir/export" --truth "$dir/truth.json" >"$dir/emu.out" 2>/dev/null &
    local emu=$!
    for _ in $(seq 100); do grep -q listening "$dir/emu.out" 2>/dev/null && break; sleep 0.1; done
    local base
    base=$(sed -n 's/^listening on //p' "$dir/emu.out")
    APPCENTER_API_TOKEN=bench "$bin" --base-url "$base" export-config create --app contoso/demo-app --subscription-id bench --json >/dev/null
    until APPCENTER_API_TOKEN=bench "$bin" --base-url "$base" export-config list --app contoso/demo-app --json | grep -q '"Enabled"'; do sleep 1; done
    kill $emu
  fi
  echo "corpus $1: $(du -sh "$dir/export/archive" | cut -f1), $(find "$dir/export/archive" -type f | wc -l) files, $(find "$dir/export/archive" -type f -printf '%s\n' | awk '{t+=$1; n++} END {printf "%.0f", t/n}') bytes on average"
}

# `subjects DIR N…`: for each N, DIR/subjects-N.jsonl (jane from DIR's truth,
# with her e-mail, user id and name, then synthetic people absent from the
# corpus, three identifiers each, up to N) and DIR/patterns-N.txt (the same
# values, one a line, for rg).
subjects() {
  python3 - "$@" <<'PY'
import json, sys
work, counts = sys.argv[1], [int(n) for n in sys.argv[2:]]
truth = json.load(open(f"{work}/truth.json"))
jane = next(s for s in truth["subjects"] if s["label"] == "jane")
jane = {"label": "jane", "identifiers": [i for i in jane["identifiers"] if i["type"] in ("email", "user-id", "name")]}
def synthetic(i):
    return {"label": f"p{i}", "identifiers": [
        {"type": "email", "value": f"person{i}.nobody@example.org"},
        {"type": "user-id", "value": f"zz-{i:06d}"},
        {"type": "name", "value": f"Nobody Person{i}"}]}
for n in counts:
    subjects = [jane] + [synthetic(i) for i in range(n - 1)]
    with open(f"{work}/subjects-{n}.jsonl", "w") as f:
        for s in subjects:
            f.write(json.dumps(s) + "\n")
    with open(f"{work}/patterns-{n}.txt", "w") as f:
        for s in subjects:
            for i in s["identifiers"]:
                f.write(i["value"] + "\n")
PY
}

#!/usr/bin/env bash
# Peak memory of `crashdsr inventory` and `crashdsr fetch` over 10,000 and
# 100,000 crashes (release build, emulator in its own process, limiter off,
# concurrency 32). Prints one line per size; the target is <= 100 MiB and
# not growing with the number of crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p crashdsr >/dev/null
bin=target/release/crashdsr
sizes=${SIZES:-"10000 100000"}
for n in $sizes; do
  work=$(mktemp -d)
  "$bin" emulator --addr 127.0.0.1:0 --errors "$n" --token bench >"$work/emu.out" 2>/dev/null &
  emu=$!
  for _ in $(seq 100); do grep -q listening "$work/emu.out" 2>/dev/null && break; sleep 0.1; done
  base=$(sed -n 's/^listening on //p' "$work/emu.out")
  run() {
    APPCENTER_API_TOKEN=bench /usr/bin/time -f '%M %e' -o "$work/time" \
      "$bin" --base-url "$base" --work-dir "$work/data" --api-rate 1000000/1 --no-progress "$@" >"$work/out" 2>"$work/err" \
      || { cat "$work/err"; exit 1; }
    read -r kib secs <"$work/time"
    echo "$((kib / 1024)) MiB peak RSS, $secs s: $(cat "$work/out")"
  }
  echo "== $n crashes"
  echo "inventory: $(run inventory --app contoso/demo-app)"
  echo "fetch:     $(run fetch --app contoso/demo-app --concurrency 32)"
  echo "archive:   $(du -sh "$work/data/archive" | cut -f1), state store $(du -sh "$work/data/state.db" | cut -f1)"
  kill "$emu"; wait "$emu" 2>/dev/null || true
  rm -rf "$work"
done

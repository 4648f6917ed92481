#!/usr/bin/env bash
# One busy minute whose logs.v1.data is far over the size a blob is read
# whole at (64 MiB): 200 MiB and 1 GiB of other people's event records,
# with one person's error logs at the start, middle and end. crashdsr
# splits it record by record as it streams; wall time and peak RSS beside
# `rg -c -F -i` of the same e-mail on the same bytes.
#
#   bash bench/big-logs.sh            # blobs in a temp dir
#   WORK=/tmp/bl bash bench/big-logs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
setup rg
email=kofi.mensah@example.com

echo "| blob | records | crashdsr search | peak RSS | person's crashes found | rg -c -F -i | rg peak RSS |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for mib in 200 1024; do
  dir=$work/big-$mib
  if [ ! -f "$dir/2026/11/30/12/05/logs.v1.data" ]; then
    python3 - "$dir" "$mib" "$email" <<'PY'
import os, sys
root, mib, email = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = os.path.join(root, "2026/11/30/12/05")
os.makedirs(os.path.join(m, "crashes"), exist_ok=True)
target = mib << 20
written, n = 0, 0
with open(os.path.join(m, "logs.v1.data"), "w", buffering=1 << 20) as w:
    w.write("[")
    def record(text):
        global written, n
        if n:
            w.write(",\n")
        w.write(text)
        written += len(text) + 2
        n += 1
    for part in range(3):
        eid = f"kofi-{part}"
        record('{"MessageType":"ErrorLog","AppId":"app","InstallId":"11111111-2222-3333-4444-55555555555%d","SessionId":"s%d","UserId":"%s","Properties":"{\\"ErrorId\\":\\"%s\\",\\"Blob\\":\\"crashes/%s.json\\"}"}' % (part, part, email, eid, eid))
        open(os.path.join(m, "crashes", eid + ".json"), "w").write('{"errorId":"%s"}' % eid)
        stop, k = target * (part + 1) // 3, 0
        while written < stop:
            who = ("x" + email) if k % 1000 == 0 else f"user{k}@example.org"
            record('{"MessageType":"EventLog","AppId":"app","InstallId":"99999999-0000-0000-0000-%012d","SessionId":"t%d","Properties":{"screen":"settings","contact":"%s","padding":"%s"}}' % (k, k, who, "p" * 180))
            k += 1
    w.write("]")
PY
  fi
  records=$(rg -c '"MessageType"' "$dir/2026/11/30/12/05/logs.v1.data")
  "$bin" --no-progress search --source "$dir" --subject "email=$email" --json >/dev/null
  /usr/bin/time -f "%e %M" -o "$work/t1" "$bin" --no-progress search --source "$dir" --subject "email=$email" --json >"$work/out.json"
  /usr/bin/time -f "%e %M" -o "$work/t2" rg -c -F -i "$email" "$dir" >/dev/null || true
  read -r s1 k1 <"$work/t1"
  read -r s2 k2 <"$work/t2"
  crashes=$(grep -c '"kind":"crash"' "$work/out.json" || true)
  echo "| $mib MiB | $records | $s1 s | $((k1 / 1024)) MiB | $crashes of 3 | $s2 s | $((k2 / 1024)) MiB |"
done
[ -n "${WORK:-}" ] || rm -rf "$work"

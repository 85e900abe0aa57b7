#!/usr/bin/env bash
# HTTP overhead of inferd: the identity model, one 1x16 FP32 input, JSON and
# binary bodies, keep-alive, concurrency 1 and 8, driven by wrk on the same
# machine. Prints requests/s, p50/p99 and the server's CPU time per request
# (server process CPU time / requests), all taken in this one run.
#   bench/http_identity.sh [seconds per step, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
bin="${INFERD_BIN:-build/release/inferd}"
command -v wrk >/dev/null || { echo "wrk missing: run scripts/setup" >&2; exit 1; }
[ -x "$bin" ] || { echo "$bin missing: run scripts/build" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/repo/identity_1x16/1"
cat > "$work/repo/identity_1x16/config.pbtxt" <<'CFG'
backend: "identity"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
CFG
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --model-repository="$work/repo" --http-port="$port" --http-address=127.0.0.1 \
  --allow-grpc=false --allow-metrics=false --log-info=false 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do curl -sf "localhost:$port/v2/health/ready" >/dev/null && break; sleep 0.1; done

url="http://127.0.0.1:$port/v2/models/identity_1x16/infer"
json='{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}]}'
header='{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"parameters":{"binary_data_size":64}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}'
cat > "$work/json.lua" <<LUA
wrk.method = "POST"
wrk.body = '$json'
wrk.headers["Content-Type"] = "application/json"
LUA
python3 - "$work/binary.lua" "$header" <<'PY'
import sys
path, header = sys.argv[1], sys.argv[2]
body = header.encode() + bytes(64)
lua = 'wrk.method = "POST"\nwrk.body = "' + "".join("\\%03d" % b for b in body) + '"\n'
lua += 'wrk.headers["Inference-Header-Content-Length"] = "%d"\n' % len(header)
lua += 'wrk.headers["Content-Type"] = "application/octet-stream"\n'
open(path, "w").write(lua)
PY

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
printf '%-8s %5s %12s %10s %10s %16s\n' body conc 'requests/s' 'p50 us' 'p99 us' 'server CPU/req'
for body in json binary; do
  for conc in 1 8; do
    threads=$(( conc < 2 ? 1 : 2 ))
    before=$(cpu_ticks)
    out=$(wrk -t"$threads" -c"$conc" -d"${secs}s" --latency -s "$work/$body.lua" "$url")
    after=$(cpu_ticks)
    python3 - "$out" "$before" "$after" "$hz" "$body" "$conc" <<'PY'
import re, sys
out, before, after, hz, body, conc = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5], sys.argv[6]
def us(tok):
    if not re.match(r"[\d.]+(us|ms|s)", tok): sys.exit("unexpected wrk output:\n" + out)
    v, unit = re.match(r"([\d.]+)(us|ms|s)", tok).groups()
    return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
reqs = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = us(re.search(r"50%\s+(\S+)", out).group(1))
p99 = us(re.search(r"99%\s+(\S+)", out).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
cpu_us = (after - before) / hz * 1e6 / max(reqs, 1)
print(f"{body:<8} {conc:>5} {rps:>12.0f} {p50:>10.0f} {p99:>10.0f} {cpu_us:>13.1f} us"
      + (f"  ({errors.group(1)} errors)" if errors else ""))
PY
  done
done

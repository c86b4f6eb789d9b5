#!/usr/bin/env bash
# Throughput of the local runtime under a keep-alive load generator, and the
# server's CPU per request: builds sagerun (release) into ./.venv, starts
# `sagerun serve` in its own process (signature checks off, as wrk cannot
# sign), runs wrk against it and reads the server's CPU time (utime+stime
# from /proc/PID/stat) before and after the load.
#
#   bash benches/wrk_local.sh [seconds=10] [connections=64] [wrk threads=2] [server threads=2] [case=echo]
#
# Cases: `echo` (small JSON InvokeEndpoint, as benches/bench_client.py sends),
# `tokens200` (a 200-part response stream) and `big` (2 MiB streamed in 32
# parts of 64 KiB), the endpoints of benches/bench_client.py; for streams the
# CPU is also given per event. SKIP_BUILD=1 reuses the venv; SAGERUN_VENV
# picks another one. PERF_STAT=1 also counts, with `perf stat` on the
# server process, its context switches, wake-ups and syscalls per request
# (figures a busy machine does not move, unlike the CPU time). Needs wrk
# (installed with apt-get when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/_serve_url.sh
DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
WRK_THREADS="${3:-2}"
SERVER_THREADS="${4:-2}"
CASE="${5:-echo}"
case "$CASE" in
    echo) path="endpoints/echo/invocations"; body='{"inputs": [[0.1, 0.2, 0.3, 0.4]], "parameters": {"top_k": 3}}'; events=0 ;;
    tokens200) path="endpoints/tokens200/invocations-response-stream"; body='{}'; events=200 ;;
    big) path="endpoints/big/invocations-response-stream"; body='{}'; events=32 ;;
    *) echo "unknown case $CASE (echo, tokens200 or big)" >&2; exit 2 ;;
esac

if ! command -v wrk >/dev/null; then
    # wrk comes from Debian's archive; install it when we may (root with apt).
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
        echo "wrk is required: apt-get install -y wrk" >&2; exit 1
    fi
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    SAGERUN_PROFILE=release . scripts/dev-env.sh
else
    . "${SAGERUN_VENV:-.venv}/bin/activate"
    if python -c 'import sys, sagerun._native as n; sys.exit(not n.DEBUG_BUILD)'; then
        echo "the sagerun in ${SAGERUN_VENV:-.venv} is a debug build (run without SKIP_BUILD=1)" >&2
        exit 2
    fi
fi

workdir="$(mktemp -d)"
server_pid=""
cleanup() {
    # Only the script itself cleans up (not a subshell that inherited the trap).
    [ "$BASHPID" = "$$" ] || return 0
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

# The endpoints of benches/bench_client.py ("tok " * 200 in 200 parts; 2 MiB
# in 32 parts: too long for a command-line argument, hence a config file).
python3 - "$workdir/endpoints.json" <<'PY'
import json, sys
json.dump({
    "echo": {"model": "echo"},
    "tokens200": {"model": "tokens", "text": "tok " * 200, "parts": 200, "format": "raw"},
    "big": {"model": "tokens", "text": "x" * (64 * 1024 * 32), "parts": 32, "format": "raw"},
}, open(sys.argv[1], "w"))
PY
# The log exists before the server starts: the wait below reads it at once
# (a missing file made sed fail, and set -e end the script, now and then).
: >"$workdir/serve.log"
sagerun serve --port 0 --config "$workdir/endpoints.json" \
    --no-verify-signatures --workers "$SERVER_THREADS" \
    >"$workdir/serve.log" 2>&1 &
server_pid=$!
url="$(served_url "$workdir/serve.log" 100)"

cat >"$workdir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

# Server CPU (user+system, clock ticks) of the whole process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s -s post.lua $url/$path (server threads: $SERVER_THREADS, cores: $(nproc))"
perf_pid=""
if [ "${PERF_STAT:-0}" = 1 ]; then
    perf stat -x, -o "$workdir/perf.csv" -p "$server_pid" -e \
        context-switches,sched:sched_wakeup,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto \
        2>/dev/null &
    perf_pid=$!
fi
before="$(cpu_ticks)"
# wrk run by a Python parent that then writes wrk's own CPU time: the
# cheapest a client can be per request here (the floor for bench_client.py).
python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(str(r.ru_utime + r.ru_stime))' "$workdir/wrk.cpu" \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$workdir/post.lua" "$url/$path" \
    | tee "$workdir/wrk.out"
after="$(cpu_ticks)"
if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
fi
requests="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$workdir/wrk.out")"
python3 - "$before" "$after" "$requests" "$(getconf CLK_TCK)" "$events" "$(cat "$workdir/wrk.cpu")" <<'PY'
import sys
before, after, requests, hz, events, wrk_cpu_s = (float(a) for a in sys.argv[1:])
cpu_s = (after - before) / hz
print(f"server CPU: {cpu_s:.2f} s for {requests:.0f} requests = {cpu_s / requests * 1e6:.1f} us/request", end="")
print(f", {cpu_s / (requests * events) * 1e9:.0f} ns/event" if events else "")
print(f"wrk's own CPU (the client): {wrk_cpu_s / requests * 1e6:.1f} us/request")
PY
if [ -n "$perf_pid" ]; then
    # perf stat -x, lines: value,unit,event,...
    python3 - "$workdir/perf.csv" "$requests" <<'PY'
import csv, sys
requests = float(sys.argv[2])
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 2 and not r[0].startswith("#")]
print("server, per request:", ", ".join(
    f"{r[2].split(':')[-1]} {float(r[0]) / requests:.2f}" for r in rows if r[0].replace(".", "").isdigit()))
PY
fi

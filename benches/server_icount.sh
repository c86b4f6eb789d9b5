#!/usr/bin/env bash
# Instructions per request of the local runtime (`sagerun serve`, echo
# model), counted by valgrind (callgrind) while wrk loads it: a figure a
# busy shared machine does not move, for before/after comparisons of the
# server's CPU per request (wrk_local.sh's CPU times swing with the load).
#
#   bash benches/server_icount.sh [connections=1] [seconds=5]
#
# User-space instructions of the whole server process only (the kernel's
# share, most of a small request's CPU on this VM, is not seen), counted
# from after a warm-up to the end of the measured wrk run, over the
# requests wrk completed in it. Uses the venv's build as it is
# (SAGERUN_VENV, default .venv-bench: build it with wrk_local.sh or
# bench.sh first); PYTHONPATH can point at another copy of the package to
# count a "before" build. Needs valgrind and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/_serve_url.sh
CONNECTIONS="${1:-1}"
DURATION="${2:-5}"
THREADS=$(( CONNECTIONS > 1 ? 2 : 1 ))
# shellcheck disable=SC1091
. "${SAGERUN_VENV:-.venv-bench}/bin/activate"

workdir="$(mktemp -d)"
vg_pid=""
cleanup() {
    if [ -n "$vg_pid" ] && kill -0 "$vg_pid" 2>/dev/null; then
        kill -INT "$vg_pid" 2>/dev/null || true
        wait "$vg_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

echo '{"echo": {"model": "echo"}}' >"$workdir/endpoints.json"
cat >"$workdir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs": [[0.1, 0.2, 0.3, 0.4]], "parameters": {"top_k": 3}}'
wrk.headers["Content-Type"] = "application/json"
LUA
: >"$workdir/serve.log"
valgrind --tool=callgrind --callgrind-out-file="$workdir/cg.%p" \
    python -m sagerun.cli serve --port 0 --config "$workdir/endpoints.json" \
    --no-verify-signatures --workers 2 >"$workdir/serve.log" 2>&1 &
vg_pid=$!
url="$(served_url "$workdir/serve.log" 600)"
target="$url/endpoints/echo/invocations"

# Warm up (connections, buffers, lazy statics), then count only the run.
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$workdir/post.lua" "$target" >/dev/null
callgrind_control -z "$vg_pid" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$workdir/post.lua" "$target" >"$workdir/wrk.out"
callgrind_control -d "$vg_pid" >/dev/null
requests="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$workdir/wrk.out")"
instructions="$(awk '/^summary:/ {print $2}' "$workdir/cg.$vg_pid.1")"
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (under callgrind): $requests requests," \
    "$(( instructions / requests )) server instructions/request"

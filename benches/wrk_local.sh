#!/usr/bin/env bash
# Throughput of the local runtime's `echo` endpoint under a keep-alive load
# generator: builds sagerun (release) into ./.venv, starts `sagerun serve` in
# its own process (signature checks off), and runs wrk against it.
#
#   bash benches/wrk_local.sh [seconds=10] [connections=64] [wrk threads=2] [server threads=2]
#
# Needs wrk (installed with apt-get when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
WRK_THREADS="${3:-2}"
SERVER_THREADS="${4:-2}"

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
    . .venv/bin/activate
fi

workdir="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

sagerun serve --port 0 --endpoint echo=echo --no-verify-signatures --workers "$SERVER_THREADS" \
    >"$workdir/serve.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 100); do
    url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$workdir/serve.log")"
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "sagerun serve did not start:" >&2; cat "$workdir/serve.log" >&2; exit 1; }

cat >"$workdir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs": "hello"}'
wrk.headers["Content-Type"] = "application/json"
LUA

echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s -s post.lua $url/endpoints/echo/invocations (server threads: $SERVER_THREADS, cores: $(nproc))"
wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$workdir/post.lua" "$url/endpoints/echo/invocations"

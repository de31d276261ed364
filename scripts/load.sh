#!/usr/bin/env bash
# The demo under wrk: requests per second of a route behind the login guard (a session
# cookie) against its unguarded twin, at 1 and 16 connections, in interleaved rounds
# (open, guarded, open, …) so that drift in the machine's load hits both alike; the
# medians and their ratio are printed.
#   scripts/load.sh [DATABASE_URL] [SESSION_CACHE_SECS]
# (default: a fresh SQLite file, no session cache; ROUNDS=5, DURATION=5s per run)
# Installs Debian's wrk when missing. Builds and runs the demo in release mode.
# With two cores or more, the demo runs on CPU 0 and wrk on the others (taskset), so the
# two never take turns on one core: the ratio then prices the server's own work, which
# is what the guard adds to, rather than the scheduler's choices.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk
url="${1:-sqlite:///tmp/authkit-load.db}"
cache="${2:-0}"
case "$url" in sqlite://*) rm -f "${url#sqlite://}"{,-wal,-shm} ;; esac
port=3917
cargo build --release -p authkit-demo
cores=$(nproc)
server_cpus=0 client_cpus=0
[ "$cores" -ge 2 ] && client_cpus="1-$((cores - 1))"
taskset -c "$server_cpus" "${CARGO_TARGET_DIR:-target}/release/authkit-demo" --database-url "$url" --listen "127.0.0.1:$port" --session-cache "$cache" &
demo=$!
trap 'kill $demo' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/ping/open" >/dev/null && break; sleep 0.1; done
email="load-$(date +%s%N)@example.com"
cookie=$(curl -sf -D - -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"correct horse battery staple\"}" \
    "$base/auth/register" | sed -n 's/^set-cookie: \([^;]*\).*/\1/Ip' | tr -d '\r')
[ -n "$cookie" ] || { echo "no session cookie" >&2; exit 1; }
rps() { taskset -c "$client_cpus" wrk -t "$1" -c "$2" -d "${DURATION:-5s}" -H "cookie: $cookie" "$base$3" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "store: $url, session cache: ${cache}s, ${ROUNDS:-5} interleaved rounds of ${DURATION:-5s}, demo on CPU $server_cpus, wrk on CPU $client_cpus"
for conns in 1 16; do
    threads=$(( conns < 2 ? 1 : 2 ))
    opens=() guardeds=()
    for _ in $(seq "${ROUNDS:-5}"); do
        opens+=("$(rps "$threads" "$conns" /ping/open)")
        guardeds+=("$(rps "$threads" "$conns" /ping/guarded)")
    done
    open=$(printf '%s\n' "${opens[@]}" | median)
    guarded=$(printf '%s\n' "${guardeds[@]}" | median)
    ratio=$(awk -v g="$guarded" -v o="$open" 'BEGIN {printf "%.2f", g / o}')
    echo "$conns connections: open $open req/s, guarded $guarded req/s (medians), ratio $ratio"
    echo "  open rounds: ${opens[*]}"
    echo "  guarded rounds: ${guardeds[*]}"
done

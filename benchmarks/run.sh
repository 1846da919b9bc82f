#!/usr/bin/env bash
# Run every benchmark, one after the other, and keep the output:
#
#     bash benchmarks/run.sh            # the full suite (about 25 minutes on 2 cores)
#     bash benchmarks/run.sh --quick    # a short run (about 2 minutes; no callgrind)
#
# Environment variables:
#   BENCH_VENV    the virtualenv to create/use (default benchmarks/.venv)
#   BENCH_PYTHON  the Python that creates it (default python3; 3.11 or newer)
#   BENCH_OUT     where the output goes (default benchmarks/results/<date-time>)
#   BENCH_NO_INSTALL=1  use the virtualenv as it is, install nothing
#
# The broadcast part runs on Redis only where redis-server is installed (in memory otherwise).
set -euo pipefail

QUICK=""
for argument in "$@"; do
    case "$argument" in
        --quick) QUICK="--quick" ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown option: $argument" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${BENCH_VENV:-$ROOT/benchmarks/.venv}"
OUT="${BENCH_OUT:-$ROOT/benchmarks/results/$(date +%Y%m%d-%H%M%S)${QUICK:+-quick}}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    "${BENCH_PYTHON:-python3}" -m venv "$VENV"
fi
PY="$VENV/bin/python"
if [ -z "${BENCH_NO_INSTALL:-}" ]; then
    echo "== installing benchmarks/requirements.txt and trioquart[redis] (editable) into $VENV"
    "$PY" -m pip install --quiet -r benchmarks/requirements.txt -e "$ROOT[redis]"
fi

mkdir -p "$OUT"
echo "== output in $OUT"
status=0
run() {  # run NAME COMMAND...: show and keep the output, remember a failure
    local name="$1"; shift
    echo
    echo "== $name: $*"
    if ! "$@" --json "$OUT/$name.json" 2> >(tee "$OUT/$name.log" >&2) | tee "$OUT/$name.txt"; then
        echo "!! $name reported a failure (see above)" >&2
        status=1
    fi
}

started=$(date +%s)
run inprocess "$PY" benchmarks/inprocess.py $QUICK
if [ -n "$QUICK" ]; then
    echo "== callgrind: skipped with --quick (valgrind needs a minute or two; run it alone:"
    echo "   $PY benchmarks/callgrind.py --quick)"
elif command -v valgrind >/dev/null; then
    run callgrind "$PY" benchmarks/callgrind.py --endpoint "GET /" --endpoint "GET /items/7?q=x" --endpoint "websocket echo" \
        --endpoint "served GET /" --endpoint "served GET /items/7?q=x"
else
    echo "== callgrind: skipped (valgrind is not installed)"
fi
if command -v wrk >/dev/null; then
    run server "$PY" benchmarks/server.py $QUICK
else
    echo "== server: skipped (wrk is not installed; e.g. apt-get install wrk)"
fi
run memory "$PY" benchmarks/memory.py $QUICK
# Websocket broadcast fan-out. The full suite publishes 1,000 messages per load, not the
# script's 10,000 (which take about 40 minutes: run it alone for figures like the docs').
if [ -n "$QUICK" ]; then
    BROADCAST_SIZE=(--quick)
else
    BROADCAST_SIZE=(--messages 1000 --single 200)
fi
if command -v redis-server >/dev/null; then
    run broadcast "$PY" benchmarks/broadcast.py "${BROADCAST_SIZE[@]}"
else
    echo "== broadcast: in memory only (redis-server is not installed; e.g. apt-get install redis-server)"
    run broadcast "$PY" benchmarks/broadcast.py "${BROADCAST_SIZE[@]}" --backends memory
fi
echo
echo "== done in $(( $(date +%s) - started )) s; output in $OUT"
exit $status

#!/bin/bash
# timehist.sh MODEL "LOAD FLAGS" [serve flags...], for docs/wakeups.md: perf sched on the
# server's CPU (1) for 0.5 s of load from CPU 0, then the scheduler's view of the server's
# threads (perf sched timehist -w: every switch and wake-up, with the waker) and a
# per-thread summary. BIN names the readiness binary (default: readiness on PATH).
#   BIN=./readiness docs/wakeups/timehist.sh epoll "-c 100 -rate 2000" -idle block
set -e
m=$1; load=$2; shift 2
. "$(dirname "$0")/start.sh"
start_server $m "$@"
taskset -c 0 $bin load -d 3s $load $addr > /dev/null 2>&1 &
lpid=$!
sleep 1.5
perf sched record -q -C 1 -o $dir/sched.data -- sleep 0.5 > /dev/null 2>&1
wait $lpid
kill -INT $spid; wait $spid
echo "server pid $spid; its threads' runs on CPU 1 in 0.5 s (perf sched timehist -s):"
perf sched timehist -i $dir/sched.data -s 2>/dev/null | grep -E "comm|\[$spid\]|/$spid\]" | head -12
echo
echo "the first 40 scheduler events involving the server (perf sched timehist -w):"
perf sched timehist -i $dir/sched.data -w 2>/dev/null | grep -E "/$spid\]" | sed -n 200,240p

#!/bin/bash
# roles.sh NAME MODEL "LOAD FLAGS" [serve flags...], for docs/wakeups.md: the server's
# context switches, wake-ups and system calls per request, by thread role, over 2 s of load
# (perf stat --per-thread; requests as the client counted them over the same 2 s).
# A thread that reads or writes sockets is "loop" (for std: every thread that runs
# goroutines), one that sleeps in nanosleep and makes no socket call is "sysmon", the rest
# "other". BIN names the readiness binary (default: readiness on PATH).
# LOAD FLAGS that start with "h2load " run h2load --h1 with the rest instead of `readiness load`;
# its requests over the 2 s are then its reported rate times 2 (it paces at a fixed rate).
#   BIN=./readiness docs/wakeups/roles.sh hold-c1 epoll "-c 1" -idle hold
#   BIN=./readiness docs/wakeups/roles.sh hold-h2load epoll "h2load -c 100 --rps 20" -idle hold
set -e
name=$1; m=$2; load=$3; shift 3
. "$(dirname "$0")/start.sh"
start_server $m "$@"
case "$load" in
h2load\ *)
	taskset -c 0 h2load --h1 ${load#h2load } -D 4 http://$addr/ > $dir/h2load.out 2>&1 &
	lpid=$! ;;
*)
	taskset -c 0 $bin load -json -warmup 1s -d 2s $load $addr > $dir/load.json 2>/dev/null &
	lpid=$! ;;
esac
sleep 1
perf stat --per-thread -x, -e 'raw_syscalls:sys_enter,sched:sched_switch,sched:sched_wakeup,signal:signal_generate,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_sendto' -p $spid -o $dir/roles.csv -- sleep 2
wait $lpid
kill -INT $spid; wait $spid
python3 - $dir/roles.csv $dir "$name" <<'PY'
import sys, json, collections, os, re
csv, d, name = sys.argv[1:4]
if os.path.exists(f'{d}/load.json'):
    n = json.load(open(f'{d}/load.json'))['requests']
else:
    n = round(2 * float(re.search(r'finished in [\d.]+s, ([\d.]+) req/s', open(f'{d}/h2load.out').read()).group(1)))
t = collections.defaultdict(dict)
for line in open(csv):
    f = line.strip().split(',')
    if len(f) < 4 or not f[1].replace('.','').isdigit(): continue
    t[f[0]][f[3].split(':')[1]] = float(f[1])
def role(c):
    if c.get('sys_enter_nanosleep', 0) > 0 and c.get('sys_enter_read', 0) == 0: return 'sysmon'
    if c.get('sys_enter_read', 0) + c.get('sys_enter_write', 0) + c.get('sys_enter_sendto', 0) > 0.2 * n: return 'loop'
    return 'other'
agg = collections.defaultdict(lambda: collections.defaultdict(float))
for th, c in t.items():
    for k, v in c.items(): agg[role(c)][k] += v
print(f"{name}: {n} requests in 2 s")
cols = ['sched_switch', 'sched_wakeup', 'sys_enter', 'sys_enter_epoll_pwait', 'sys_enter_epoll_wait', 'sys_enter_futex', 'sys_enter_nanosleep', 'signal_generate']
print('  role    ' + ' '.join(f'{c.replace("sys_enter_",""):>12s}' for c in cols))
for r in ('loop', 'sysmon', 'other'):
    if r in agg: print(f'  {r:7s} ' + ' '.join(f'{agg[r].get(c,0)/n:12.3f}' for c in cols))
PY

#!/usr/bin/env python3
"""Interleaved runs of server variants under one load, for docs/wakeups.md.

Each variant is NAME=MODEL[,ENV=VALUE...][,-flag=value...], or NAME=floor[,read|epoll] for
`readiness floor`; BIN=PATH among the variant's settings runs that binary's server (the client
is always --bin's). Every run starts each variant's server pinned to --server-cpus, loads it
from --client-cpus with `readiness load` (--load gives its flags, e.g. "-c 100 -rate 2000"),
and measures the server over --dur after --warm: CPU time from every thread's schedstat (ns),
context switches from every thread's status (all, and voluntary), system calls from
`perf stat -e raw_syscalls:sys_enter`. Per request means per response the client counted
over the same window. The medians are over runs; the ratio is each run's CPU per request
over the last variant's in the same run, then the median and range of those ratios.

    python3 docs/wakeups/interleave.py --bin ./readiness --load "-c 1" hold=epoll block=epoll,-idle=block gnet=gnet
"""
import argparse, json, os, re, subprocess, sys, time, statistics, signal

ap = argparse.ArgumentParser()
ap.add_argument('--bin', default='readiness')
ap.add_argument('--runs', type=int, default=3)
ap.add_argument('--dur', type=float, default=3)
ap.add_argument('--warm', type=float, default=1)
ap.add_argument('--load', default='-c 1')
ap.add_argument('--h2load', default='', help='h2load flags (e.g. "-c 100 --rps 20"): h2load --h1 is the client instead of readiness load')
ap.add_argument('--server-cpus', default='1')
ap.add_argument('--client-cpus', default='0')
ap.add_argument('--noperf', action='store_true')
ap.add_argument('--out', default='ab.json')
ap.add_argument('variants', nargs='+', help='NAME=MODEL[,ENV=V...][,-flag=v...]')
a = ap.parse_args()

def task_sum(pid):
    ns = cs = vcs = 0
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            ns += int(open(f'/proc/{pid}/task/{t}/schedstat').read().split()[0])
            st = open(f'/proc/{pid}/task/{t}/status').read()
            v = int(re.search(r'^voluntary_ctxt_switches:\s+(\d+)', st, re.M).group(1))
            cs += v; vcs += v
            cs += int(re.search(r'^nonvoluntary_ctxt_switches:\s+(\d+)', st, re.M).group(1))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return ns, cs, vcs

def floor(name, wait):
    out = subprocess.run([a.bin, 'floor', '-runs', '1', '-d', f'{a.dur}s', '-wait', wait, '-json',
                          '-server-cpu', a.server_cpus, '-client-cpu', a.client_cpus],
                         capture_output=True, text=True, check=True).stdout
    j = json.loads(out)[0]
    return dict(name=name, rps=1e6 / j['wall_us_per_rt'], us=j['server_cpu_us_per_rt'], cs=j['server_ctxsw_per_rt'],
                vcs=j['server_ctxsw_per_rt'], sc=(3.0 if wait == 'epoll' else 2.0), p50=None, p99=None, errors=0)

def one(spec):
    name, rest = spec.split('=', 1)
    if rest.startswith('floor'):
        return floor(name, rest.split(',')[1] if ',' in rest else 'epoll')
    parts = rest.split(',')
    model, env, flags, binary = parts[0], dict(os.environ), [], a.bin
    for p in parts[1:]:
        if p.startswith('-'):
            flags.append(p)
        elif p.startswith('BIN='):
            binary = p[len('BIN='):]
        else:
            k, v = p.split('=', 1); env[k] = v
    srv = subprocess.Popen(['taskset', '-c', a.server_cpus, binary, 'serve', model, '-loops', '1', '-addr', '127.0.0.1:0'] + flags,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = srv.stdout.readline()
    addr = re.search(r'listening on (\S+)', line).group(1)
    if a.h2load:
        ld = subprocess.Popen(['taskset', '-c', a.client_cpus, 'h2load', '--h1', f'--warm-up-time={a.warm:g}s', f'-D{a.dur:g}s']
                              + a.h2load.split() + [f'http://{addr}/'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    else:
        ld = subprocess.Popen(['taskset', '-c', a.client_cpus, a.bin, 'load', '-json', '-warmup', f'{a.warm}s', '-d', f'{a.dur + 0.3}s']
                              + a.load.split() + [addr], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(a.warm)
    perf = None
    if not a.noperf:
        perf = subprocess.Popen(['perf', 'stat', '-x,', '-e', 'raw_syscalls:sys_enter', '-p', str(srv.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ns0, cs0, v0 = task_sum(srv.pid)
    t0 = time.time()
    time.sleep(a.dur)
    ns1, cs1, v1 = task_sum(srv.pid)
    t1 = time.time()
    sc = None
    if perf:
        perf.send_signal(signal.SIGINT)
        err = perf.communicate()[1]
        m = re.search(r'^(\d+),,raw_syscalls', err, re.M)
        sc = int(m.group(1)) if m else None
    out = ld.communicate()[0]
    srv.send_signal(signal.SIGINT); srv.wait()
    if a.h2load:
        m = re.search(r'requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed', out)
        if not m:
            sys.exit('h2load printed no request counts:\n' + out)
        j = {'rps': int(m.group(1)) / a.dur, 'errors': int(m.group(2))}
    else:
        j = json.loads(out)
    rps = j['rps']
    n = rps * (t1 - t0)
    return dict(name=name, rps=rps, us=(ns1 - ns0) / 1e3 / n, cs=(cs1 - cs0) / n, vcs=(v1 - v0) / n, sc=(sc / n if sc else None),
                p50=j.get('p50_us'), p99=j.get('p99_us'), errors=j.get('errors'))

rows = []
for r in range(a.runs):
    for v in a.variants:
        res = one(v); res['run'] = r; rows.append(res)
        print(f"run {r} {res['name']:14s} rps {res['rps']:9.0f} cpu {res['us']:7.2f} us/req ctxsw {res['cs']:6.3f} vol {res['vcs']:6.3f} sc {res['sc'] if res['sc'] is None else round(res['sc'],3)} p50 {res['p50']} p99 {res['p99']} err {res['errors']}", flush=True)
names = [v.split('=', 1)[0] for v in a.variants]
base = names[-1]
print('\nmedians:')
for nm in names:
    rs = [x for x in rows if x['name'] == nm]
    us = [x['us'] for x in rs]
    ratio = []
    for x in rs:
        b = [y for y in rows if y['name'] == base and y['run'] == x['run']][0]
        ratio.append(x['us'] / b['us'])
    scs = [x['sc'] for x in rs if x['sc'] is not None]
    print(f"{nm:14s} cpu {statistics.median(us):7.2f} ({min(us):.2f}-{max(us):.2f}) ctxsw {statistics.median([x['cs'] for x in rs]):.3f} vol {statistics.median([x['vcs'] for x in rs]):.3f} sc {statistics.median(scs) if scs else float('nan'):.3f} rps {statistics.median([x['rps'] for x in rs]):.0f}  /{base} {statistics.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f})")
json.dump(rows, open(a.out, 'w'), indent=1)

#!/usr/bin/env python3
"""Per-run ratios of epoll's CPU per request to each other model's, from a compare
results.json: for every cell, each run's ratio, then their median and range.

    python3 docs/wakeups/ratios.py results/results.json
"""
import json, statistics, sys, collections

rows = json.load(open(sys.argv[1]))['rows']
by = collections.defaultdict(dict)
for r in rows:
    by[(r['conns'], r['pipeline'], r.get('offered_rps'), r['run'])][r['model']] = r
cells = sorted({k[:3] for k in by}, key=lambda c: (c[0], c[1], c[2] or 0))
for cell in cells:
    runs = [v for k, v in sorted(by.items()) if k[:3] == cell]
    others = sorted({m for v in runs for m in v} - {'epoll'})
    line = [f'conns {cell[0]} pipeline {cell[1]}' + (f' rate {cell[2]}' if cell[2] else '')]
    for m in others:
        rs = [v['epoll']['cpu_us_per_req'] / v[m]['cpu_us_per_req'] for v in runs
              if 'epoll' in v and m in v and v[m]['cpu_us_per_req']]
        if rs:
            line.append(f'epoll/{m} {statistics.median(rs):.3f} ({min(rs):.3f}-{max(rs):.3f}; ' +
                        ' '.join(f'{x:.2f}' for x in rs) + ')')
    ep = [v['epoll'] for v in runs if 'epoll' in v]
    line.append('epoll syscalls/req %.3f ctxsw/req %.3f allocs/req %.6f' % (
        statistics.median([r['syscalls_per_req'] for r in ep if r['syscalls_per_req'] is not None] or [float('nan')]),
        statistics.median([r['ctxsw_per_req'] for r in ep]),
        statistics.median([r['allocs_per_req'] or 0 for r in ep])))
    print('; '.join(line))

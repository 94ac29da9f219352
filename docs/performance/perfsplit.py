#!/usr/bin/env python3
"""Where a server's CPU time goes, from a perf profile.

usage: perfsplit.py BINARY PERF.DATA

PERF.DATA is a `perf record -e cpu-clock -g -p PID` of a readiness server
built as BINARY. Every sample is put in one bucket: kernel time by the system
call it was taken in (read, write, epoll_wait, futex, nanosleep, ...), or
user time by component (the epoll loop, the framing, gnet, net and
internal/poll, the Go runtime).

One bucket needs explaining: "user: syscall return". On this machine (a PVM
guest) a timer interrupt that falls due while the kernel runs with interrupts
off is taken on the first instructions after the system call returns to user
space. perf's samples and the kernel's tick accounting (the utime of
/proc/PID/stat) both land there, so kernel time is booked as user time. The
script finds those instructions in BINARY's disassembly: the few that follow
each syscall instruction, and each call to a small function that makes one
(the syscall package's wrappers, the epoll package's read and send). Samples
there are counted apart. "kernel: syscall entry" is the same effect on the
way in: samples taken as the entry code enables interrupts.
"""
import collections
import re
import subprocess
import sys


def returns_from_syscalls(binary):
    """Addresses of the instructions just after a system call returns."""
    dis = subprocess.run(['objdump', '-d', '--no-show-raw-insn', binary],
                         capture_output=True, text=True, check=True).stdout
    funcs, cur = {}, None
    for line in dis.splitlines():
        m = re.match(r'^([0-9a-f]+) <(.+)>:$', line)
        if m:
            cur = m.group(2)
            funcs[cur] = []
            continue
        m = re.match(r'^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$', line)
        if m and cur:
            funcs[cur].append((int(m.group(1), 16), m.group(2), m.group(3)))
    target = re.compile(r'<(.+?)(\+0x[0-9a-f]+)?>')
    # Functions that make a system call: those with a syscall instruction,
    # the syscall packages' wrappers, and small functions calling (or
    # jumping to) one of them, three levels up.
    wrappers = {f for f, ins in funcs.items() if any(op == 'syscall' for _, op, _ in ins)}
    wrappers |= {f for f in funcs if re.match(
        r'^(syscall|golang.org/x/sys/unix)\.(Raw)?Syscall(6|NoError)?(\.abi0)?$', f)}
    for _ in range(3):
        found = set()
        for f, ins in funcs.items():
            if f in wrappers or len(ins) > 40:
                continue
            for _, op, arg in ins:
                m = target.search(arg)
                if m and m.group(1) in wrappers and m.group(1) != f and (
                        op.startswith('call') or (op.startswith('jmp') and not m.group(2))):
                    found.add(f)
                    break
        wrappers |= found
    out = set()
    for ins in funcs.values():
        for i, (_, op, arg) in enumerate(ins):
            m = target.search(arg)
            if op == 'syscall' or (op.startswith('call') and m and m.group(1) in wrappers):
                out.update(a for a, _, _ in ins[i + 1:i + 5])
    return out


KERNEL = [
    ('ksys_read', 'read'), ('__x64_sys_read', 'read'), ('__sys_recvfrom', 'read'),
    ('ksys_write', 'write'), ('__x64_sys_write', 'write'), ('__sys_sendto', 'write'),
    ('__x64_sys_sendto', 'write'), ('do_writev', 'write'),
    ('do_epoll_wait', 'epoll_wait'), ('do_epoll_pwait', 'epoll_wait'),
    ('__x64_sys_epoll_pwait', 'epoll_wait'), ('__x64_sys_epoll_wait', 'epoll_wait'),
    ('do_futex', 'futex'), ('__x64_sys_futex', 'futex'),
    ('hrtimer_nanosleep', 'nanosleep'), ('__x64_sys_nanosleep', 'nanosleep'),
    ('do_accept', 'accept4'), ('__x64_sys_epoll_ctl', 'epoll_ctl'),
    ('__x64_sys_sched_yield', 'sched_yield'),
]


def kernel_bucket(chain):
    if 'do_syscall_64' not in chain:
        return 'no system call (interrupts, scheduler)'
    for frame in chain:
        for fn, name in KERNEL:
            if frame == fn:
                return name
    i = chain.index('do_syscall_64')
    if all(f.startswith(('pvm_irq', '__raw_callee_save_pvm')) for f in chain[:i]):
        return 'syscall entry'
    if 'exit_to_user_mode_loop' in chain:
        return 'return to user: scheduling, signals'
    for frame in chain:
        m = re.match(r'__x64_sys_(\w+)', frame)
        if m:
            return m.group(1)
    return 'other system calls'


USER = [
    ('github.com/readinesslab/readiness/internal/proto', 'framing (internal/proto)'),
    ('github.com/readinesslab/readiness/epoll', 'epoll loop'),
    ('github.com/readinesslab/readiness/gnetserver', 'gnetserver'),
    ('github.com/readinesslab/readiness/stdserver', 'stdserver'),
    ('github.com/panjf2000', 'gnet library'),
]


def user_bucket(top):
    for prefix, name in USER:
        if top.startswith(prefix):
            return name
    if top.startswith(('net.', 'internal/poll', 'os.', 'syscall.', 'golang.org/x/sys')):
        return 'net, internal/poll, syscall'
    return 'Go runtime and the rest'


def main():
    binary, data = sys.argv[1], sys.argv[2]
    skid = returns_from_syscalls(binary)
    text = subprocess.run(['perf', 'script', '-i', data, '-F', 'ip,sym'],
                          capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    for block in text.split('\n\n'):
        lines = [l.split(None, 1) for l in block.strip().splitlines()]
        lines = [l for l in lines if l]
        if not lines:
            continue
        ip = int(lines[0][0], 16)
        chain = [l[1] if len(l) > 1 else '?' for l in lines]
        kernel = ip >= 0xffff800000000000
        if kernel:
            counts['kernel: ' + kernel_bucket(chain)] += 1
        elif ip in skid or ip + 0x400000 in skid:
            # perf prints a Go binary's user addresses relative to its
            # text mapping; the disassembly has them from 0x400000.
            counts['user: syscall return'] += 1
        else:
            counts['user: ' + user_bucket(chain[0])] += 1
    total = sum(counts.values())
    for key, n in sorted(counts.items(), key=lambda kv: (kv[0].split(':')[0], -kv[1])):
        print(f'{100 * n / total:5.1f}%  {key}')
    user = sum(n for k, n in counts.items() if k.startswith('user'))
    print(f'{total} samples; user {100 * user / total:.1f}%, '
          f'user without the syscall returns {100 * (user - counts["user: syscall return"]) / total:.1f}%')


if __name__ == '__main__':
    main()

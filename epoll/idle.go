package epoll

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// This file is the loop's idle path: what the wait does once its first,
// raw poll has found nothing ready, so the loop must sleep until an event or
// its timeout. The choice decides what a request costs at light load, where
// nearly every request wakes the loop (docs/wakeups.md measures each):
//
//   - hold sleeps in a raw epoll_wait, keeping the P, for up to holdMax. A
//     loop woken from a raw sleep finds its P where it left it: no other
//     thread is woken, and sysmon has no P to take and hand off. When the
//     hold passes with nothing, the loop sleeps on as park does, and the
//     process is idle: its P is free, and sysmon, which finds every P idle,
//     sleeps too. The limit is there because a P held in a raw call is
//     signalled by sysmon about every 10 ms: it cannot tell the call from
//     a goroutine that never yields.
//   - block calls Syscall6 at once. After a few tens of microseconds
//     asleep, sysmon takes the P, wakes a thread to look for other work,
//     and keeps polling every 20 µs; the loop then exits the call without
//     its P, and wakes sysmon again if it had gone to sleep. That is two to
//     four context switches per wake-up.
//   - spin polls raw for up to spinFor first, then holds: a request that
//     arrives within the spin costs no sleep and no wake-up at all, at the
//     price of the polls when none comes.
//   - park hands the sleeping to the runtime: the epoll fd is itself
//     pollable, so it is registered with the runtime's netpoller, and the
//     goroutine parks on it as a net.Conn's goroutine does on a socket. The
//     P is free while the loop sleeps and the thread that wakes runs the
//     loop at once, at the cost of the runtime's own epoll_wait calls.
//
// Parking nests the loop's epoll set in the runtime's, and the kernel's
// exclusive wake-up stops at the first set with a thread waiting on it
// directly: a nested set has none, so a connection on a listener shared
// with EPOLLEXCLUSIVE reaches every parked loop's set, as it would without
// the flag. So hold and spin park after their hold only in a loop with a
// listener of its own (-accept reuseport); a loop sharing its listener
// blocks in Syscall6 instead, as block does. -idle park parks in every
// accept mode (docs/wakeups.md measures what that does to the herd).
const (
	holdMax = 10 // ms
	spinFor = 20 * time.Microsecond
)

// idler is the poller's idle state.
type idler struct {
	mode string
	// park only: the epoll fd as an *os.File registered with the runtime's
	// netpoller, its raw access, and the read deadline last set on it.
	file     *os.File
	raw      syscall.RawConn
	deadline time.Time
}

// setIdle chooses how the poller sleeps (serve.IdleHold, ...); shared says
// whether the loop's listener is in other loops' sets too, and loops how
// many loops the server runs.
func (p *poller) setIdle(mode string, shared bool, loops int) error {
	if (mode == serve.IdleHold || mode == serve.IdleSpin) && loops > runtime.GOMAXPROCS(0) {
		// With more loops than Ps, a loop holding a P while it has nothing
		// to do keeps a loop with work from running, for up to the hold:
		// sleep at once as the hold would end.
		mode = serve.IdlePark
		if shared {
			mode = serve.IdleBlock
		}
	}
	p.idle = idler{mode: mode}
	if mode == serve.IdleBlock || (mode != serve.IdlePark && shared) {
		return nil
	}
	// os.NewFile registers only a nonblocking fd with the netpoller. The
	// flag changes nothing else: epoll_wait takes its timeout as given.
	if err := unix.SetNonblock(p.fd, true); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(p.fd), "epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		p.fd = -1
		return err
	}
	p.idle.file, p.idle.raw = f, raw
	return nil
}

// parks reports whether the loop's long sleeps park its goroutine in the
// runtime rather than block its thread in a system call.
func (p *poller) parks() bool { return p.idle.file != nil }

// holdFor is the timeout of the wait's first, raw poll: the hold in the
// hold mode, 0 (a poll) in the others.
func (p *poller) holdFor(msec int) int {
	if p.idle.mode != serve.IdleHold {
		return 0
	}
	return holdLimit(msec)
}

// holdLimit is how long a raw hold lasts within a wait of msec (< 0: no
// deadline): all of it, up to holdMax.
func holdLimit(msec int) int {
	if msec < 0 || msec > holdMax {
		return holdMax
	}
	return msec
}

// sleep waits up to msec (< 0: no deadline) for events, after the first
// poll found none, and returns their count and the wait's errno (EINTR
// included: the wait decides what a signal means).
func (p *poller) sleep(msec int) (uintptr, unix.Errno) {
	if p.idle.mode == serve.IdleSpin {
		if r, errno := p.spin(); r != 0 || errno != 0 {
			return r, errno
		}
		h := holdLimit(msec)
		if r, errno := p.poll(h); r != 0 || errno != 0 || h == msec {
			return r, errno
		}
		if msec > 0 {
			msec -= h
		}
	}
	if p.parks() {
		return p.park(msec)
	}
	r, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd), p.eventsPtr(), maxEvents, uintptr(msec), 0, 0)
	return r, errno
}

func (p *poller) eventsPtr() uintptr { return uintptr(unsafe.Pointer(&p.events[0])) }

// poll is one raw epoll_wait with a timeout of msec; the P stays with this
// thread throughout.
func (p *poller) poll(msec int) (uintptr, unix.Errno) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd), p.eventsPtr(), maxEvents, uintptr(msec), 0, 0)
	return r, errno
}

// spin polls until an event arrives or spinFor has passed.
func (p *poller) spin() (uintptr, unix.Errno) {
	start := time.Now()
	for time.Since(start) < spinFor {
		if r, errno := p.poll(0); r != 0 || errno != 0 {
			return r, errno
		}
	}
	return 0, 0
}

// park parks the goroutine in the runtime until the epoll fd is readable or
// msec passes. The runtime is told about readiness edge-triggered, and
// RawConn.Read forgets any edge it saw before the call; so the function it
// calls polls first, and parking happens only when that poll found nothing.
func (p *poller) park(msec int) (uintptr, unix.Errno) {
	p.setDeadline(msec)
	var r uintptr
	var errno unix.Errno
	err := p.idle.raw.Read(func(fd uintptr) bool {
		r, _, errno = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, p.eventsPtr(), maxEvents, 0, 0, 0)
		// EINTR: nothing was taken from the set; park, and poll again when
		// the runtime reports the fd readable.
		return r != 0 || (errno != 0 && errno != unix.EINTR)
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, 0
	case err != nil:
		return 0, unix.EBADF // the file was closed: the only other error Read returns here
	case errno != 0:
		return 0, errno
	}
	return r, 0
}

// setDeadline makes sure the park ends by msec from now. A later deadline
// than the one set is left alone: waking early costs one empty wait, while
// moving the runtime's timer on every wait would cost every request.
func (p *poller) setDeadline(msec int) {
	if msec < 0 {
		if !p.idle.deadline.IsZero() {
			p.idle.deadline = time.Time{}
			p.idle.file.SetReadDeadline(time.Time{})
		}
		return
	}
	now := time.Now()
	want := now.Add(time.Duration(msec) * time.Millisecond)
	if d := p.idle.deadline; d.IsZero() || want.Before(d) || !d.After(now) {
		p.idle.deadline = want
		p.idle.file.SetReadDeadline(want)
	}
}

// closeIdle releases the park's file, which owns the epoll fd; it reports
// whether it did.
func (p *poller) closeIdle() bool {
	if p.idle.file == nil {
		return false
	}
	p.idle.file.Close()
	p.idle.file = nil
	return true
}

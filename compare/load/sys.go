package load

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file owns every system call the generator makes: sockets, epoll, the
// loop's timer and the stop event. The loop above it speaks of readable,
// writable, hang-up and failure kinds.

// Event-data tags for the two fds every poller holds besides connections.
// A connection's event carries its slot (>= 0) and its generation.
const (
	tagStop  = -1
	tagTimer = -2
)

// poller is one epoll instance and the buffer its waits fill.
type poller struct {
	fd     int
	events []unix.EpollEvent
}

func newPoller(size int) (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	return &poller{fd: fd, events: make([]unix.EpollEvent, size)}, nil
}

// add registers fd, level-triggered: an fd that is still readable after one
// read is reported again by the next wait, so one read per event suffices.
func (p *poller) add(fd int, events uint32, slot, gen int32) error {
	ev := unix.EpollEvent{Events: events, Fd: slot, Pad: gen}
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, &ev))
}

func (p *poller) mod(fd int, events uint32, slot, gen int32) error {
	ev := unix.EpollEvent{Events: events, Fd: slot, Pad: gen}
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, fd, &ev))
}

// wait returns the pending events, blocking until there is at least one;
// the timerfd in the set bounds the wait.
func (p *poller) wait() (int, error) {
	// Poll without blocking first, as a raw system call: while events are
	// pending (the loop is busy) that is one plain system call, without the
	// runtime's bookkeeping for calls that may block. EINTR or an error
	// here falls through to the blocking wait, which reports it.
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd),
		uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
	if errno == 0 && r > 0 {
		return int(r), nil
	}
	// Nothing pending: block through the runtime's path, so that the P is
	// free for Run's own goroutine while the loop sleeps.
	for {
		n, err := unix.EpollWait(p.fd, p.events, -1)
		// EINTR: a signal (the Go runtime's preemption among them) cut the
		// wait short; nothing happened to the set, so wait again.
		if err == unix.EINTR {
			continue
		}
		return n, os.NewSyscallError("epoll_wait", err)
	}
}

func (p *poller) close() { unix.Close(p.fd) }

// dial opens a nonblocking TCP socket towards sa and starts connecting.
// connected says the connect finished at once (common on loopback);
// otherwise the socket reports writable when it is done.
func dial(sa unix.Sockaddr, family int) (fd int, connected bool, err error) {
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
	// Requests go out in one write per batch; Nagle would hold a batch
	// while an earlier one is unacknowledged.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		unix.Close(fd)
		return -1, false, os.NewSyscallError("setsockopt", err)
	}
	switch err := unix.Connect(fd, sa); err {
	case nil:
		return fd, true, nil
	case unix.EINPROGRESS, unix.EINTR:
		// Nonblocking connect (or one cut by a signal) goes on in the
		// kernel; writability reports its end.
		return fd, false, nil
	default:
		unix.Close(fd)
		return -1, false, os.NewSyscallError("connect", err)
	}
}

// connectError reports how a nonblocking connect ended.
func connectError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if v != 0 {
		return os.NewSyscallError("connect", unix.Errno(v))
	}
	return nil
}

// newTimer makes the loop's timerfd: one timer per loop, armed for the
// earliest thing the loop must do (a scheduled send, a reconnect, the
// timeout sweep), with nanosecond precision where epoll_wait's own timeout
// only has milliseconds.
func newTimer() (int, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	return fd, os.NewSyscallError("timerfd_create", err)
}

// setTimer arms fd to expire once, d from now (at least 1ns: zero disarms).
func setTimer(fd int, d int64) error {
	if d < 1 {
		d = 1
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
	return os.NewSyscallError("timerfd_settime", unix.TimerfdSettime(fd, 0, &spec, nil))
}

// drainTimer consumes the expiration count so the level-triggered timerfd
// stops reporting readable.
func drainTimer(fd int) {
	var b [8]byte
	// EAGAIN: another wait already consumed it; nothing to do either way.
	unix.Read(fd, b[:])
}

// newStop makes the eventfd that ends every loop: written once, never read,
// it stays readable in every epoll set it is registered in.
func newStop() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	return fd, os.NewSyscallError("eventfd", err)
}

func signalStop(fd int) error {
	b := [8]byte{1}
	_, err := unix.Write(fd, b[:])
	return os.NewSyscallError("write", err)
}

// failure is what went wrong on a connection; each kind is counted apart.
type failure uint8

const (
	failConnect failure = iota
	failReset
	failTimeout
	failMismatch
	failClosed
)

// ioResult reduces a read or write outcome to what the loop must do.
type ioResult uint8

const (
	ioDone  ioResult = iota // n bytes moved
	ioAgain                 // nothing now; wait for readiness
	ioEOF                   // the peer closed its side
	ioReset                 // the connection is broken
)

func classify(n int, errno unix.Errno) ioResult {
	switch {
	case errno == 0 && n == 0:
		return ioEOF
	case errno == 0:
		return ioDone
	case errno == unix.EAGAIN, errno == unix.EINTR:
		// EAGAIN: the socket is not ready; level triggering reports it
		// again when it is. EINTR cannot come from a nonblocking socket
		// but would mean the same: nothing done, try again later.
		return ioAgain
	default:
		// ECONNRESET, EPIPE, and anything else the kernel says about a
		// connected socket (ETIMEDOUT, EHOSTUNREACH) all mean it is gone.
		return ioReset
	}
}

// read and write on a nonblocking socket never sleep in the kernel, so
// they go through RawSyscall: the runtime's entersyscall/exitsyscall, which
// lets another thread take the P while a call blocks, would be pure cost.

func read(fd int, p []byte) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(r), errno
}

func write(fd int, p []byte) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(r), errno
}

// epoch anchors the loop's clock; now is monotonic nanoseconds since it.
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

func closeFd(fd int) { unix.Close(fd) }

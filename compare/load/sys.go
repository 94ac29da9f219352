package load

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/eventfd"
)

// This file owns every system call the generator makes: sockets, epoll and
// the stop event. The loop above it speaks of readable, writable, hang-up
// and failure kinds.

// tagStop is the event-data tag of the stop eventfd, the one fd every
// poller holds besides connections. A connection's event carries its slot
// (>= 0) and its generation, so an event for a socket closed since is told
// from one for the socket now in the slot.
const tagStop = -1

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

// wait fills p.events and returns how many it holds, waiting at most until
// due (in now()'s clock). It polls first, with a raw epoll_pwait of timeout
// 0: while the loop is busy an event is nearly always pending, and a raw
// call skips the runtime's bookkeeping for calls that may block. Only when
// that finds nothing does it block, through Syscall6, so that the P is free
// for Run's own goroutine while the loop sleeps. The blocking wait is
// epoll_pwait2: its timespec keeps the nanoseconds an open-loop schedule
// needs, where epoll_wait's milliseconds would send late.
func (p *poller) wait(due int64) (int, error) {
	ptr := uintptr(unsafe.Pointer(&p.events[0]))
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.fd), ptr, uintptr(len(p.events)), 0, 0, 0)
	if errno == 0 && r > 0 {
		return int(r), nil
	}
	for {
		d := due - now()
		if d <= 0 {
			return 0, nil
		}
		ts := unix.NsecToTimespec(d)
		r, _, errno = unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.fd), ptr, uintptr(len(p.events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		switch errno {
		case 0:
			return int(r), nil
		case unix.EINTR:
			// A signal (the runtime's preemption, for one) ended the wait
			// early; nothing happened to the set, so wait again, for what
			// is left until due only.
			continue
		default:
			return 0, os.NewSyscallError("epoll_pwait2", errno)
		}
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

// newStop makes the eventfd that ends every loop: written once, never read,
// it stays readable in every epoll set it is registered in.
func newStop() (int, error) { return eventfd.Open() }

// signalStop ends every loop's wait, now and from then on.
func signalStop(fd int) error { return eventfd.Signal(fd) }

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
	case errno == unix.EAGAIN:
		// The socket is not ready; level triggering reports it again when
		// it is. (EINTR never gets here: read and write retry it.)
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
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		if errno == unix.EINTR {
			continue // a signal arrived before any byte was read: read again
		}
		return int(r), errno
	}
}

func write(fd int, p []byte) (int, unix.Errno) {
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		if errno == unix.EINTR {
			continue // a signal arrived before any byte was written: write again
		}
		return int(r), errno
	}
}

// epoch anchors the loop's clock; now is monotonic nanoseconds since it.
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

func closeFd(fd int) { unix.Close(fd) }

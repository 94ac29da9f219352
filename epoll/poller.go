package epoll

import (
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/eventfd"
)

// This file is the only one that speaks epoll. The loop above it asks for
// interest in reading and writing, waits, and gets back readable, writable
// and hang-up; the kernel's EPOLL* bits never leave this file.

// Readiness the loop is told about.
const (
	readable uint32 = 1 << iota // bytes to read, or the peer's FIN (a read returns 0)
	writable                    // room in the send buffer
	hangup                      // the connection is gone: reset, error, or both directions shut
)

// Interest the loop asks for.
const (
	wantRead  uint8 = 1 << iota // readable events (and the peer's FIN)
	wantWrite                   // writable events
)

// Event tags of the two kinds of fd in the set besides connections. A
// connection's events carry its fd (>= 0) and its generation.
const (
	tagWake     = -1 // the eventfd
	tagListener = -2 // the listening socket
)

// maxEvents is how many events one wait returns at most: large, so that under
// load one epoll_wait serves many connections and its cost per request fades.
const maxEvents = 1024

type poller struct {
	fd     int  // the epoll instance
	wakefd int  // an eventfd in the set: writing to it ends a wait
	edge   bool // connections are registered with EPOLLET
	events [maxEvents]unix.EpollEvent
	idle   idler // how the wait sleeps (idle.go)
}

// newPoller creates an epoll instance with an eventfd registered in it.
func newPoller(edge bool) (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wfd, err := eventfd.Open()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	p := &poller{fd: fd, wakefd: wfd, edge: edge}
	// The eventfd is level-triggered: it reports until the loop reads it, so
	// a wake that lands while the loop is busy is not lost.
	if err := p.ctl(unix.EPOLL_CTL_ADD, wfd, tagWake, 0, unix.EPOLLIN); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// ctl registers fd, or changes or ends its registration. Every event of the
// registration carries the tag (key, gen) back: a connection's fd and
// generation, or tagWake or tagListener. The registration belongs to
// the open socket, not to the number: while a copy of a closed fd lives on
// (a child between fork and exec), the old socket stays in the set and
// reports under its old tag, and gen is what tells it from a new connection
// that accept4 gave the same number.
func (p *poller) ctl(op, fd int, key int32, gen, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: key, Pad: int32(gen)}
	return os.NewSyscallError("epoll_ctl", unix.EpollCtl(p.fd, op, fd, &ev))
}

// mask turns the loop's interest into epoll bits. EPOLLRDHUP goes with
// reading only: in level mode it stays reported until the FIN is read, so a
// connection that is not being read must not ask for it, or the wait spins.
func (p *poller) mask(want uint8) uint32 {
	var m uint32
	if want&wantRead != 0 {
		m |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if want&wantWrite != 0 {
		m |= unix.EPOLLOUT
	}
	if p.edge {
		m |= unix.EPOLLET
	}
	return m
}

// add registers a connection with the given interest, tagged with gen.
func (p *poller) add(fd int, gen uint32, want uint8) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, int32(fd), gen, p.mask(want))
}

// modify changes a connection's interest. EPOLL_CTL_MOD polls the socket
// again, so in edge mode too the loop hears about bytes that arrived while
// it was not asking.
func (p *poller) modify(fd int, gen uint32, want uint8) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, int32(fd), gen, p.mask(want))
}

// addListener registers a listening socket, level-triggered in both modes:
// the backlog keeps being reported until it is empty, so a pause in
// accepting resumes by itself. exclusive asks the kernel to wake one of the
// epoll instances sharing the socket rather than all of them; without it
// every instance waiting on the socket is woken for each connection.
func (p *poller) addListener(fd int, exclusive bool) error {
	var m uint32 = unix.EPOLLIN
	if exclusive {
		m |= unix.EPOLLEXCLUSIVE
	}
	return p.ctl(unix.EPOLL_CTL_ADD, fd, tagListener, 0, m)
}

// remove takes an fd out of the set. Connections do not need it: closing a
// socket that was never duplicated removes it. Listeners do (they are paused,
// or shared with other loops), and EPOLLEXCLUSIVE forbids EPOLL_CTL_MOD.
func (p *poller) remove(fd int) error {
	return p.ctl(unix.EPOLL_CTL_DEL, fd, 0, 0, 0)
}

// wait fills p.events and returns how many it holds; msec < 0 waits without
// a deadline. It takes two steps, and the split is the point:
//
//  1. a raw epoll_pwait (RawSyscall6), which skips the runtime's
//     entersyscall/exitsyscall: under load an event is nearly always
//     pending, and the call returns at once. Its timeout is 0, or, in the
//     hold mode, the hold: a short sleep that keeps the P (idle.go).
//  2. only if that found nothing, the sleep of the loop's idle mode.
func (p *poller) wait(msec int) (int, error) {
	var deadline time.Time // when a timeout was given: when it ends
	if msec > 0 {
		deadline = time.Now().Add(time.Duration(msec) * time.Millisecond)
	}
	for {
		first := p.holdFor(msec)
		r, errno := p.poll(first)
		if errno == 0 && r == 0 && msec != first {
			rest := -1
			if msec > 0 {
				rest = msec - first
			}
			r, errno = p.sleep(rest)
		}
		switch errno {
		case 0:
			return int(r), nil
		case unix.EINTR:
			// A signal ended the wait early; nothing happened to the set.
			// It is most often the runtime asking this goroutine to stop
			// (sysmon's preemption, a GC's stop), which a raw call cannot
			// honour: yield to it, then wait again, but only for what is
			// left of the timeout: waiting the whole of it again would let
			// every signal push the nearest timer back.
			runtime.Gosched()
			if !deadline.IsZero() {
				msec = ceilMillis(int64(time.Until(deadline)))
			}
			continue
		default:
			return 0, os.NewSyscallError("epoll_wait", errno)
		}
	}
}

// event returns the tag (key and gen) and the readiness of the i-th event
// of the last wait.
func (p *poller) event(i int) (key int32, gen uint32, ready uint32) {
	e := &p.events[i]
	var r uint32
	if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
		r |= readable
	}
	if e.Events&unix.EPOLLOUT != 0 {
		r |= writable
	}
	if e.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r |= hangup
	}
	return e.Fd, uint32(e.Pad), r
}

// wake ends the loop's current or next wait. Any goroutine may call it.
func (p *poller) wake() error {
	return eventfd.Signal(p.wakefd)
}

// woken resets the eventfd after a wake, so that it stops being reported.
func (p *poller) woken() {
	eventfd.Reset(p.wakefd)
}

// closeEpoll closes the epoll instance. The eventfd stays open until close,
// because Shutdown may still write to it from another goroutine.
func (p *poller) closeEpoll() {
	if p.closeIdle() {
		p.fd = -1
	}
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// close releases both fds.
func (p *poller) close() {
	p.closeEpoll()
	if p.wakefd >= 0 {
		unix.Close(p.wakefd)
		p.wakefd = -1
	}
}

package epoll

import (
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
)

// accept takes the pending connections, at most maxAccepts of them per
// wake. Connections beyond MaxConns get 503 and are closed at once.
func (l *loop) accept() {
	// The cap leaves the rest of a burst in the backlog: the listener is
	// level-triggered, so the next wait reports it again, after this loop
	// has served its connections' events, and a loop sharing the listener
	// may take some meanwhile. Failed tries count too, so a listener that
	// keeps failing cannot hold the loop either.
	for range maxAccepts {
		fd, errno := l.accept4(l.lfd)
		switch errno {
		case 0:
		case unix.EAGAIN:
			// The backlog is empty. With a shared listener this is also how
			// a loop that lost the race learns it: every loop woken for one
			// connection calls accept4, one gets it, the others get EAGAIN.
			return
		case unix.ECONNABORTED, unix.EPERM, unix.ENETDOWN, unix.EPROTO, unix.ENOPROTOOPT,
			unix.EHOSTDOWN, unix.ENONET, unix.EHOSTUNREACH, unix.EOPNOTSUPP, unix.ENETUNREACH:
			// That connection died in the backlog, a firewall refused it, or
			// accept4 passed up a network error pending on it (accept(2)
			// says to retry): the next one may be fine, take it now.
			continue
		default:
			// EMFILE, ENFILE, ENOBUFS, ENOMEM: no fd or no memory, so the
			// backlog stays readable and accept4 would fail again at once;
			// pause instead of spinning, and keep serving the connections
			// we have. Anything else (EBADF, EINVAL) means the listener
			// itself is broken, and the pause retries it without spinning.
			l.pauseAccept()
			return
		}
		if l.srv.conns.Add(1) > l.srv.maxConns {
			l.srv.conns.Add(-1)
			// Over the cap: answer and close now; the socket is fresh, so
			// the 503 fits its send buffer. A drain would hold the very fd
			// the cap protects.
			sendFD(fd, proto.ServiceUnavailable)
			closeFD(fd)
			continue
		}
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			l.srv.conns.Add(-1)
			closeFD(fd)
			continue
		}
		c := l.conns.slot(fd)
		gen := c.gen + 1 // the slot's registrations so far keep their older tags
		if err := l.p.add(int(fd), gen, wantRead); err != nil {
			l.srv.conns.Add(-1)
			closeFD(fd)
			continue
		}
		*c = conn{gen: gen, state: connReading, want: wantRead, prev: -1, next: -1}
		l.count++
		l.maxfd = max(l.maxfd, fd)
		l.place(fd, c, listIdle, true)
	}
}

// pauseAccept takes the listener out of the set for acceptPause.
func (l *loop) pauseAccept() {
	l.p.remove(l.lfd)
	l.paused = true
	l.resumeAt = l.now + int64(acceptPause)
}

// resumeAccept watches the listener again after a pause.
func (l *loop) resumeAccept() {
	l.paused = false
	if err := l.p.addListener(l.lfd, l.exclusive); err != nil {
		// The listener cannot be watched again: try again after a pause.
		l.pauseAccept()
	}
}

// stopAccepting takes the listener out of the set and closes it; a shared
// listener is closed by the last loop to let go of it.
func (l *loop) stopAccepting() {
	if l.lfd < 0 {
		return
	}
	if !l.paused {
		l.p.remove(l.lfd)
	}
	l.paused = false
	fd := l.lfd
	l.lfd = -1
	if !l.shared || l.srv.listenRefs.Add(-1) == 0 {
		unix.Close(fd)
	}
}

package epoll

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

const (
	// readSize is what one read asks for. The read buffer also holds up to
	// MaxHead bytes of an unfinished head in front of it.
	readSize = 64 << 10
	// maxUnsent is how many unsent bytes a connection may hold before the
	// loop stops reading it: a client that never reads cannot make the
	// server buffer without bound. One read adds at most a few hundred KiB.
	maxUnsent = 1 << 20
	// acceptPause is how long a loop stops accepting after accept failed for
	// want of fds or memory. The listener stays readable meanwhile, so
	// without the pause the loop would spin on the failing accept.
	acceptPause = 100 * time.Millisecond
)

// loop is one event loop: a goroutine locked to its thread, with its own
// epoll instance, connections and buffers. Nothing in it is shared, so
// nothing in it is locked; the Server reaches it only through its eventfd.
type loop struct {
	srv       *Server
	p         *poller
	lfd       int  // the listening socket this loop accepts from; -1 once stopped
	exclusive bool // lfd is shared with every loop (EPOLLEXCLUSIVE)
	paused    bool // lfd is out of the epoll set until resumeAt (EMFILE)
	resumeAt  int64
	stopping  bool // Shutdown began: no more accepting, no more reading

	base  time.Time // the loop clock's origin
	now   int64     // the loop clock (ns since base), read after each wait
	conns table
	count int   // connections open in this loop
	maxfd int32 // highest fd this loop has held

	spills     []spill // index 0 is never used, so 0 means "no spill"
	freeSpills []int32
	pool       pool
	rbuf       []byte // an unfinished head from the last read, then this read
	wbuf       []byte // the responses to one read

	lists    [listCount]timerList
	timeouts [listCount]int64 // per list, ns; 0: the list is not used

	delayTimer bool          // responses wait in the delay list
	delayBlock time.Duration // responses wait in a sleep inside the loop
	sleeper    *time.Timer
}

func newLoop(srv *Server, cfg serve.Config, lfd int, exclusive bool) (*loop, error) {
	p, err := newPoller(cfg.Trigger == serve.TriggerEdge)
	if err != nil {
		return nil, err
	}
	if err := p.setIdle(cfg.Idle); err != nil {
		p.close()
		return nil, err
	}
	if err := p.addListener(lfd, exclusive); err != nil {
		p.close()
		return nil, err
	}
	l := &loop{
		srv:       srv,
		p:         p,
		lfd:       lfd,
		exclusive: exclusive,
		base:      time.Now(),
		spills:    make([]spill, 1),
		rbuf:      make([]byte, proto.MaxHead+readSize),
		wbuf:      make([]byte, 0, 16<<10),
	}
	for i := range l.lists {
		l.lists[i] = timerList{head: -1, tail: -1}
	}
	l.timeouts[listIdle] = int64(cfg.IdleTimeout)
	l.timeouts[listHead] = int64(cfg.HeaderTimeout)
	l.timeouts[listDrain] = int64(proto.DrainTimeout)
	if cfg.Delay > 0 {
		if cfg.DelayMode == serve.DelayTimer {
			l.delayTimer = true
			l.timeouts[listDelay] = int64(cfg.Delay)
		} else {
			l.delayBlock = cfg.Delay
		}
	}
	return l, nil
}

// run is the loop: wait, dispatch, accept, expire timers, until Shutdown
// has closed every connection.
func (l *loop) run() {
	// A parked goroutine that is locked hands its thread off on every
	// sleep; the other modes sleep on the thread itself and keep it.
	if l.p.idle.mode != serve.IdlePark {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	defer l.exit()
	for {
		n, err := l.p.wait(l.timeout())
		if err != nil {
			// epoll_wait fails only on a bad epoll fd or events array:
			// nothing can be served any more, so let the connections go.
			l.closeAll()
			return
		}
		l.now = int64(time.Since(l.base))
		accepting, woken := false, false
		for i := 0; i < n; i++ {
			fd, ev := l.p.event(i)
			switch {
			case fd == int32(l.p.wakefd):
				woken = true
			case int(fd) == l.lfd:
				accepting = true
			default:
				l.handle(fd, ev)
			}
		}
		if woken {
			l.p.woken()
		}
		if state := l.srv.state.Load(); state != stateRunning && l.stop(state) {
			return
		}
		// New connections are taken only after the batch: an fd closed
		// above may come back from accept4, and a later event of this
		// batch, meant for the old connection, must not reach the new one.
		if accepting && !l.stopping {
			l.accept()
		}
		l.expire()
		if l.stopping && l.count == 0 {
			return
		}
	}
}

// handle dispatches one event to its connection.
func (l *loop) handle(fd int32, ev uint32) {
	c := l.conns.get(fd)
	if c == nil || c.flags == 0 {
		// A stale event: the connection was closed earlier in this batch.
		return
	}
	if ev&hangup != 0 {
		// EPOLLHUP or EPOLLERR: reset, or both directions shut. Nothing
		// more can be written, so there is nothing left to finish.
		l.close(fd, c)
		return
	}
	if ev&writable != 0 && !l.flush(fd, c) {
		return
	}
	if ev&readable != 0 && c.want&wantRead != 0 {
		l.readable(fd, c)
	}
}

// accept takes every pending connection (until EAGAIN). Connections beyond
// MaxConns get 503 and are closed at once.
func (l *loop) accept() {
	for {
		fd, errno := accept(l.lfd)
		switch errno {
		case 0:
		case unix.EAGAIN:
			// The backlog is empty (or another loop took the connection).
			return
		case unix.ECONNABORTED, unix.EPROTO, unix.EPERM:
			// That connection died in the backlog: take the next one.
			continue
		default:
			// EMFILE, ENFILE, ENOBUFS, ENOMEM: the backlog stays readable
			// and accept would fail again at once; pause instead of spinning,
			// and keep serving the connections we have.
			l.pauseAccept()
			return
		}
		if l.srv.conns.Add(1) > l.srv.maxConns {
			l.srv.conns.Add(-1)
			// Over the cap: answer and close now; the socket is fresh, so
			// the 503 fits its send buffer. A drain would hold the very fd
			// the cap protects.
			send(fd, proto.ServiceUnavailable)
			closeFD(fd)
			continue
		}
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			l.srv.conns.Add(-1)
			closeFD(fd)
			continue
		}
		if err := l.p.add(int(fd), wantRead); err != nil {
			l.srv.conns.Add(-1)
			closeFD(fd)
			continue
		}
		c := l.conns.slot(fd)
		*c = conn{flags: flagOpen, want: wantRead, prev: -1, next: -1}
		l.count++
		l.maxfd = max(l.maxfd, fd)
		l.place(fd, c, listIdle, true)
	}
}

func (l *loop) pauseAccept() {
	l.p.remove(l.lfd)
	l.paused = true
	l.resumeAt = l.now + int64(acceptPause)
}

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
	if !l.exclusive || l.srv.listenRefs.Add(-1) == 0 {
		unix.Close(fd)
	}
}

// stop reacts to Shutdown: on the first call it stops accepting and asks
// every connection to finish what it owes and close; when aborting it
// closes them all at once. It reports whether the loop may exit.
func (l *loop) stop(state int32) bool {
	if !l.stopping {
		l.stopping = true
		l.stopAccepting()
		l.each(func(fd int32, c *conn) {
			c.flags |= flagCloseAfter
			l.settle(fd, c, false)
		})
	}
	if state == stateAborting {
		l.closeAll()
	}
	return l.count == 0
}

// each calls f for every open connection of the loop.
func (l *loop) each(f func(fd int32, c *conn)) {
	for fd := int32(0); fd <= l.maxfd; fd++ {
		if c := l.conns.get(fd); c != nil && c.flags != 0 {
			f(fd, c)
		}
	}
}

func (l *loop) closeAll() {
	l.each(l.close)
}

// exit releases what the loop owns. The eventfd stays open for the Server,
// which may still write to it, and closes it after every loop has exited.
func (l *loop) exit() {
	l.closeAll()
	l.stopAccepting()
	l.p.closeEpoll()
	if l.sleeper != nil {
		l.sleeper.Stop()
	}
	l.srv.loopDone()
}

// sleep is the block delay: the whole loop waits, every connection of it
// with it. Shutdown's abort cuts it short.
func (l *loop) sleep() {
	if l.sleeper == nil {
		l.sleeper = time.NewTimer(l.delayBlock)
	} else {
		l.sleeper.Reset(l.delayBlock)
	}
	select {
	case <-l.sleeper.C:
	case <-l.srv.abort:
		l.sleeper.Stop()
	}
}

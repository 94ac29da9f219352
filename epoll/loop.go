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
	// maxAccepts is how many accept4 calls one wake makes at most, as
	// Redis's MAX_ACCEPTS_PER_CALL: enough to take a burst in a few wakes,
	// few enough that a burst does not hold the loop's connections up.
	maxAccepts = 64
	// maxEdgeReads is how many reads one event makes at most in edge mode
	// (about 1 MiB, as gnet's EdgeTriggeredIOChunk), before the loop
	// re-arms the connection and serves the others.
	maxEdgeReads = 16
)

// loop is one event loop: a goroutine locked to its thread, with its own
// epoll instance, connections and buffers. Nothing in it is shared, so
// nothing in it is locked; the Server reaches it only through its eventfd.
type loop struct {
	srv       *Server
	p         *poller
	lfd       int  // the listening socket this loop accepts from; -1 once stopped
	shared    bool // lfd is shared with every loop (exclusive and shared modes)
	exclusive bool // lfd is registered with EPOLLEXCLUSIVE
	paused    bool // lfd is out of the epoll set until resumeAt (EMFILE)
	resumeAt  int64
	stopping  bool                              // Shutdown began: no more accepting, no more reading
	accept4   func(lfd int) (int32, unix.Errno) // acceptFD, or a test's stand-in

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

func newLoop(srv *Server, cfg serve.Config, lfd int) (*loop, error) {
	exclusive := cfg.Accept == serve.AcceptExclusive
	p, err := newPoller(cfg.Trigger == serve.TriggerEdge)
	if err != nil {
		return nil, err
	}
	if err := p.setIdle(cfg.Idle, cfg.Accept != serve.AcceptReusePort, cfg.Loops); err != nil {
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
		shared:    cfg.Accept != serve.AcceptReusePort,
		exclusive: exclusive,
		accept4:   acceptFD,
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
	// sleep; a loop that never parks sleeps on its thread and keeps it.
	if !l.p.parks() {
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
		for i := range n {
			fd, gen, ev := l.p.event(i)
			switch fd {
			case tagWake:
				woken = true
			case tagListener:
				accepting = true
			default:
				l.handle(fd, gen, ev)
			}
		}
		if woken {
			l.p.woken()
		}
		if state := l.srv.state.Load(); state != stateRunning && l.stop(state) {
			return
		}
		// New connections are taken after the batch, so that those already
		// open are served first. An fd closed above may come back from
		// accept4; a later event meant for the old connection carries the
		// old generation, and handle drops it.
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
func (l *loop) handle(fd int32, gen uint32, ev uint32) {
	c := l.conns.get(fd)
	if c == nil || c.state == connFree || c.gen != gen {
		// A stale event: its connection was closed, earlier in this batch
		// or while a copy of its fd keeps its socket in the set, and the
		// number may belong to a newer connection now. (In level mode such
		// a socket is reported at every wait until the copy is closed.)
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
		l.receive(fd, c)
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
			c.become(connClosing)
			l.settle(fd, c, quiet)
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
		if c := l.conns.get(fd); c != nil && c.state != connFree {
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

package load

import (
	"net/netip"
	"runtime"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// Histogram range: 1µs to 60s at 3 significant figures.
const (
	minLatencyUs  = 1
	maxLatencyUs  = 60_000_000
	latencyDigits = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(minLatencyUs, maxLatencyUs, latencyDigits)
}

// readBuffer is each loop's one read buffer, shared by its connections.
const readBuffer = 64 << 10

// plan is what every loop of a run shares, read-only once the loops start.
// Times are in the clock of now().
type plan struct {
	target   netip.AddrPort
	req1     []byte // one request
	reqs     []byte // pipeline+1 copies of req1, so a batch plus a partly written request is one slice
	pipeline int
	interval int64 // open loop: ns between one connection's intended sends; 0: closed loop
	start    int64 // when load begins (the warmup's start)
	begin    int64 // the measured window: [begin, end)
	end      int64
	timeout  int64
	sweep    int64 // how often in-flight requests are checked for timeouts
	backoff  int64 // wait before reopening a failed connection
	stop     int   // the eventfd that ends every loop
}

// stats is what one loop counted in the window.
type stats struct {
	requests, connectErrors, resets, timeouts, mismatches, closed int64
}

// loop is one event loop: an epoll set, its share of the connections, a
// timers heap, a read buffer and a histogram, all used only by the
// goroutine running it, locked to its own OS thread.
type loop struct {
	plan    *plan
	sa      unix.Sockaddr // the target, one per loop: connect caches its raw form in it
	family  int
	poll    *poller
	conns   []conn
	timers  timers
	buf     []byte
	hist    *hdrhistogram.Histogram
	acct    *account // open loop's service times and send lags; nil in closed loop
	stats   stats
	sweepAt int64
	err     error // what ended the loop early, if anything
}

// newLoop makes a loop for the connections with global indexes first,
// first+stride, ... below total; the index spreads open-loop schedules
// evenly over one interval.
func newLoop(p *plan, first, stride, total int) (*loop, error) {
	n := (total - first + stride - 1) / stride
	poll, err := newPoller(min(n+2, 1024))
	if err != nil {
		return nil, err
	}
	l := &loop{plan: p, poll: poll, conns: make([]conn, n), buf: make([]byte, readBuffer), hist: newHistogram()}
	l.timers.conns = l.conns
	l.sa, l.family = sockaddr(p.target)
	times := make([]int64, n*p.pipeline)
	for i := range l.conns {
		c := &l.conns[i]
		c.fd, c.hidx = -1, -1
		c.times = times[i*p.pipeline : (i+1)*p.pipeline : (i+1)*p.pipeline]
		g := int64(first + i*stride)
		c.next = p.start + g*p.interval/int64(total)
	}
	if err := poll.add(p.stop, unix.EPOLLIN, tagStop, 0); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// run drives the loop until the stop event or a failure of epoll itself,
// then closes every fd the loop owns. One turn: wait until an event or the
// nearest deadline, handle the events, then do what is due.
func (l *loop) run() {
	// One OS thread per loop, as wrk runs one per thread: the loop's
	// blocking wait then never holds up another loop.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The kernel may end a timed sleep up to the thread's timer slack late
	// (50 µs by default), and in the open loop that lateness would count as
	// latency from the intended send time. 1 ns wakes the loop on time; 0
	// gives the thread its default back before it returns to the runtime.
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0)
	defer l.close()
	t := now()
	l.sweepAt = t + l.plan.sweep
	for i := range l.conns {
		l.open(int32(i), t)
	}
	for {
		n, err := l.poll.wait(l.nextDue())
		if err != nil {
			l.err = err
			return
		}
		for i := range n {
			ev := &l.poll.events[i]
			if ev.Fd == tagStop {
				return
			}
			slot := ev.Fd
			// A different generation: the socket this event was fetched for
			// has been closed since, earlier in this batch, and the slot
			// may hold a newer one.
			if l.conns[slot].gen != ev.Pad {
				continue
			}
			l.event(slot, ev.Events)
		}
		if l.err != nil {
			return
		}
		l.expire(now())
	}
}

// event handles readiness on one live connection.
func (l *loop) event(slot int32, events uint32) {
	c := &l.conns[slot]
	if c.state == connConnecting {
		// Writable, error or hang-up all end a nonblocking connect;
		// SO_ERROR says which.
		l.connected(slot)
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		// Errors and hang-ups go through read as well: it returns the
		// pending error or EOF, which tells a reset from an early close.
		if !l.receive(slot) {
			return
		}
	}
	if events&unix.EPOLLOUT != 0 && c.wpend > 0 {
		l.flush(slot, now())
	}
}

// expire does what is due at t: scheduled sends, reopens and the timeout
// sweep.
func (l *loop) expire(t int64) {
	for l.timers.len() > 0 && l.timers.top() <= t {
		slot := l.timers.pop()
		switch l.conns[slot].state {
		case connDown:
			l.open(slot, t)
		case connOpen:
			l.send(slot, t)
		}
		// connConnecting: the connect's end sends.
	}
	if t >= l.sweepAt {
		l.sweepTimeouts(t)
		l.sweepAt = t + l.plan.sweep
	}
}

// sweepTimeouts fails connections whose oldest request, or whose connect,
// has waited longer than the timeout.
func (l *loop) sweepTimeouts(t int64) {
	for i := range l.conns {
		c := &l.conns[i]
		switch {
		case c.state == connConnecting && t-c.since > l.plan.timeout:
			l.fail(int32(i), failConnect, t)
		case c.state == connOpen && c.inflight > 0 && t-c.times[c.head] > l.plan.timeout:
			l.fail(int32(i), failTimeout, t)
		}
	}
}

// schedule puts slot in the timers heap at due; the next wait ends by then.
func (l *loop) schedule(slot int32, due int64) {
	l.timers.set(slot, due)
}

// nextDue is the wait's deadline: the earliest of the heap's top and the
// next sweep. No timerfd: the deadline is the wait's own timeout, so
// scheduling costs no system call.
func (l *loop) nextDue() int64 {
	due := l.sweepAt
	if l.timers.len() > 0 && l.timers.top() < due {
		due = l.timers.top()
	}
	return due
}

// close releases every fd the loop owns; the stop eventfd belongs to Run.
func (l *loop) close() {
	for i := range l.conns {
		if c := &l.conns[i]; c.fd >= 0 {
			unix.Close(c.fd)
			c.fd = -1
		}
	}
	l.poll.close()
}

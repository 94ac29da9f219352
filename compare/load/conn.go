package load

import (
	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
)

// connState is where a connection is in its life.
type connState uint8

const (
	connDown       connState = iota // no socket: waiting to be (re)opened
	connConnecting                  // nonblocking connect in progress
	connOpen                        // connected: sending and receiving
)

// conn is one client connection, owned by one loop and addressed by its
// slot in that loop's table. Everything here survives between events.
type conn struct {
	fd      int       // the socket; -1 while down
	gen     int32     // bumped on every close, so events already fetched for an old socket are dropped
	state   connState //
	writing bool      // EPOLLOUT is armed: a batch of requests is partly written

	inflight int     // requests sent (or being written) whose response is not complete; <= pipeline
	head     int     // index in times of the oldest request in flight
	times    []int64 // ring of len pipeline: each in-flight request's send time (closed loop) or intended send time (open loop)
	matched  int     // bytes of the current response matched so far against proto.OK

	wpend int // request bytes still to write
	woff  int // offset of the next byte to write within one request

	next  int64 // open loop: intended send time of this connection's next request
	since int64 // when the current connect began
	due   int64 // the timers heap key: next scheduled send, or when to reopen
	hidx  int32 // index in the timers heap; -1 when not in it

	// Open loop only. sent parallels times with each request's actual
	// send time, for the service time; ready is when the connection last
	// had room to send (it opened, or a full pipeline got a response),
	// so a send's lag counts only the delay the client itself added.
	sent  []int64
	ready int64
}

// expected is the response every request must get, byte for byte.
var expected = proto.OK

// open starts a connection on a down slot.
func (l *loop) open(slot int32, t int64) {
	c := &l.conns[slot]
	fd, connected, err := dial(l.sa, l.family)
	if err != nil {
		// socket or connect failed outright (refused, out of fds): count it
		// and try again after the back-off, so a dead server is not spun on.
		l.count(failConnect, t)
		l.schedule(slot, t+l.plan.backoff)
		return
	}
	c.fd, c.since = fd, t
	events := uint32(unix.EPOLLIN)
	c.state = connOpen
	if !connected {
		// A nonblocking connect reports its end as writability.
		events, c.state = unix.EPOLLOUT, connConnecting
	}
	if err := l.poll.add(fd, events, slot, c.gen); err != nil {
		l.fail(slot, failConnect, t)
		return
	}
	if connected {
		c.ready = t
		l.send(slot, t)
	}
}

// connected finishes a nonblocking connect that reported writable.
func (l *loop) connected(slot int32) {
	c := &l.conns[slot]
	t := now()
	if err := connectError(c.fd); err != nil {
		l.fail(slot, failConnect, t)
		return
	}
	if err := l.poll.mod(c.fd, unix.EPOLLIN, slot, c.gen); err != nil {
		l.fail(slot, failConnect, t)
		return
	}
	c.state = connOpen
	c.ready = t
	l.send(slot, t)
}

// send puts new requests in flight and writes them in one batch. Closed
// loop: as many as the pipeline has room for, stamped now. Open loop: those
// whose intended time has come, stamped with that time, and the connection
// is scheduled for the next one if the pipeline still has room.
func (l *loop) send(slot int32, t int64) {
	c := &l.conns[slot]
	p := l.plan
	k := 0
	if p.interval == 0 {
		for k = 0; c.inflight+k < p.pipeline; k++ {
			c.times[(c.head+c.inflight+k)%p.pipeline] = t
		}
	} else {
		for ; c.inflight+k < p.pipeline && c.next <= t; k++ {
			i := (c.head + c.inflight + k) % p.pipeline
			c.times[i], c.sent[i] = c.next, t
			l.lagged(c, t)
			c.next += p.interval
		}
		if c.inflight+k < p.pipeline {
			l.schedule(slot, c.next)
		}
	}
	if k == 0 {
		return
	}
	c.inflight += k
	c.wpend += k * len(p.req1)
	if !c.writing {
		l.flush(slot, t)
	}
	// While writing is armed the new bytes wait for writability behind the
	// ones already pending.
}

// flush writes the pending request bytes. plan.reqs holds pipeline+1
// copies of the request, so any tail of one request followed by up to
// pipeline whole ones is a single slice of it.
func (l *loop) flush(slot int32, t int64) {
	c := &l.conns[slot]
	n1 := len(l.plan.req1)
	for c.wpend > 0 {
		// A write to a reset socket fails with EPIPE; the Go runtime ignores
		// SIGPIPE for fds other than stdout and stderr, so it cannot kill us.
		n, errno := write(c.fd, l.plan.reqs[c.woff:c.woff+c.wpend])
		switch classify(n, errno) {
		case ioAgain:
			// The socket buffer is full: keep the rest and let writability
			// say when to go on.
			if !c.writing {
				if err := l.poll.mod(c.fd, unix.EPOLLIN|unix.EPOLLOUT, slot, c.gen); err != nil {
					l.fail(slot, failReset, t)
					return
				}
				c.writing = true
			}
			return
		case ioEOF, ioReset:
			l.fail(slot, failReset, t)
			return
		}
		// A short write leaves wpend > 0: the loop writes again, and that
		// write says EAGAIN if the buffer really is full.
		c.wpend -= n
		c.woff = (c.woff + n) % n1
	}
	if c.writing {
		// Everything is out: stop asking for writability, which level
		// triggering would otherwise report on every wait.
		if err := l.poll.mod(c.fd, unix.EPOLLIN, slot, c.gen); err != nil {
			l.fail(slot, failReset, t)
			return
		}
		c.writing = false
	}
}

// receive reads once and checks the bytes against the expected response,
// streaming across reads. It reports whether the connection is still open.
func (l *loop) receive(slot int32) bool {
	c := &l.conns[slot]
	n, errno := read(c.fd, l.buf)
	t := now()
	switch classify(n, errno) {
	case ioAgain:
		return true
	case ioEOF:
		l.fail(slot, failClosed, t)
		return false
	case ioReset:
		l.fail(slot, failReset, t)
		return false
	}
	data := l.buf[:n]
	for len(data) > 0 {
		want := expected[c.matched:]
		k := min(len(want), len(data))
		// Bytes nobody asked for are as wrong as wrong bytes.
		if c.inflight == 0 || string(data[:k]) != string(want[:k]) {
			l.fail(slot, failMismatch, t)
			return false
		}
		data = data[k:]
		c.matched += k
		if c.matched == len(expected) {
			c.matched = 0
			l.complete(c, t)
		}
	}
	l.send(slot, t)
	return c.fd >= 0
}

// complete accounts for the oldest request in flight, answered whole at t.
func (l *loop) complete(c *conn, t int64) {
	sent, actual := c.times[c.head], c.times[c.head]
	if c.sent != nil {
		actual = c.sent[c.head]
	}
	c.head++
	if c.head == l.plan.pipeline {
		c.head = 0
	}
	if c.inflight == l.plan.pipeline {
		c.ready = t
	}
	c.inflight--
	if t < l.plan.begin || t >= l.plan.end {
		return
	}
	l.stats.requests++
	record(l.hist, t-sent)
	if l.plan.interval != 0 {
		record(l.acct.service, t-actual)
	}
}

// lagged records how late the client sent the request due at c.next,
// sent at t: the time past both its intended send and the moment the
// connection had room for it, which is the delay the client alone added.
func (l *loop) lagged(c *conn, t int64) {
	if t < l.plan.begin || t >= l.plan.end {
		return
	}
	record(l.acct.lag, t-max(c.next, c.ready))
}

// record adds a duration in nanoseconds to h in microseconds, clamped to
// the histogram's range.
func record(h *hdrhistogram.Histogram, ns int64) {
	us := min((ns+500)/1000, maxLatencyUs)
	// RecordValue fails only beyond the histogram's range, excluded here.
	_ = h.RecordValue(max(us, 0))
}

// fail closes a connection after a failure of the given kind, counts it if
// it happened in the window, and schedules the reopen after the back-off.
func (l *loop) fail(slot int32, kind failure, t int64) {
	c := &l.conns[slot]
	l.count(kind, t)
	if c.fd >= 0 {
		// Closing removes the fd from the epoll set.
		unix.Close(c.fd)
	}
	c.fd = -1
	c.gen++
	c.state = connDown
	c.writing = false
	c.inflight, c.head, c.matched, c.wpend, c.woff = 0, 0, 0, 0, 0
	l.schedule(slot, t+l.plan.backoff)
}

// count adds one failure of kind to the loop's figures if t is in the window.
func (l *loop) count(kind failure, t int64) {
	if t < l.plan.begin || t >= l.plan.end {
		return
	}
	switch kind {
	case failConnect:
		l.stats.connectErrors++
	case failReset:
		l.stats.resets++
	case failTimeout:
		l.stats.timeouts++
	case failMismatch:
		l.stats.mismatches++
	case failClosed:
		l.stats.closed++
	}
}

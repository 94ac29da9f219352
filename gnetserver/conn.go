package gnetserver

import (
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

// phase is what a connection is doing besides reading requests.
type phase uint8

const (
	serving  phase = iota // reading and answering requests
	holding               // a batch waits out Config.Delay (timer mode); later input stays buffered
	backlog               // over maxUnsent bytes unsent; later input stays buffered until it drains
	ending                // the last responses are flushing; then the close, or with aside.drain the half-close and drain
	draining              // half-closed after an error; input discarded until EOF or the deadline
)

const (
	// maxUnsent bounds the responses a connection may have waiting in gnet's
	// outbound buffer before it stops being served: a client that sends
	// without reading cannot make the server buffer without end.
	maxUnsent = 1 << 20
	// maxUnread bounds what gnet buffers for a connection that is not being
	// served (backlog or holding). gnet reads every readable socket and
	// offers no way to stop, so past this bound the connection is dropped.
	maxUnread = 1 << 20
	// A connection waiting for its outbound buffer to drain looks again
	// after minPoll, doubling up to maxPoll while nothing moves: gnet
	// reports no event when it has flushed, and a client that stopped
	// reading must not cost a wake-up every few milliseconds.
	minPoll = 2 * time.Millisecond
	maxPoll = 500 * time.Millisecond
	// maxKeptOut is the largest response buffer a loop keeps for reuse: a
	// huge batch (a long pipeline released after a delay) does not pin its
	// buffer for good.
	maxKeptOut = 1 << 20
	// maxHeld is the largest held-batch buffer a connection keeps for reuse.
	maxHeld = 64 << 10
)

// conn is one connection's state, kept in its gnet context. Everything else
// (unparsed bytes, unsent bytes) lives in gnet's buffers for the connection.
// Only the connection's loop touches it, except that a timer calls wake.
type conn struct {
	st    proto.State
	gc    gnet.Conn
	lp    *loop
	idx   int32 // position in lp.conns
	phase phase
	head  bool // the bytes gnet holds begin an incomplete head

	// In clock's nanoseconds; last, headStart and moved are kept only when
	// a timeout is set.
	last      int64 // when bytes last arrived, or unsent responses last moved
	headStart int64 // when the incomplete head got its first byte
	until     int64 // holding: when the batch is due; draining: when to close

	// Progress of the responses, for the idle timeout's rule on a client
	// that stops reading: queued counts every byte handed to gnet, so
	// queued minus what gnet still holds is what has left for the kernel,
	// which grows only when the client reads (see loop.stalled).
	queued int64
	sent   int64 // queued minus the unsent bytes, at the last look
	moved  int64 // when sent last grew

	side *aside // made the first time a delay, a flush or a drain is waited for
}

// aside is what only slow paths need.
type aside struct {
	timer   *time.Timer // wakes the connection's loop for it
	held    []byte      // the batch waiting out the delay
	verdict proto.Verdict
	drain   bool          // ending: half-close and drain once flushed, rather than close
	every   time.Duration // the flush wait's current poll interval
	unsent  int           // gnet's outbound bytes at the last look
}

// traffic handles an OnTraffic event: new bytes, or a wake-up.
func (c *conn) traffic() gnet.Action {
	switch c.phase {
	case holding:
		if clock() < c.until {
			return c.keep() // new bytes during the delay: they wait their turn
		}
		c.phase = serving
		a := c.send(c.side.held, c.side.verdict)
		if cap(c.side.held) > maxHeld {
			c.side.held = nil
		}
		if a != gnet.None || c.phase != serving {
			return a
		}
	case backlog:
		if c.gc.OutboundBuffered() > maxUnsent/2 {
			c.flushing()
			return c.keep()
		}
		c.phase = serving
	case ending:
		_, _ = c.gc.Discard(-1)
		if c.gc.OutboundBuffered() > 0 {
			c.flushing()
			return gnet.None
		}
		return c.end(c.side.drain)
	case draining:
		_, _ = c.gc.Discard(-1)
		if clock() >= c.until {
			return gnet.Close
		}
		return gnet.None
	}
	return c.serve()
}

// serve frames what gnet holds for the connection and answers it.
func (c *conn) serve() gnet.Action {
	in, _ := c.gc.Peek(-1)
	if len(in) == 0 {
		return c.idle() // a wake-up with nothing buffered
	}
	lp := c.lp
	out, n, v := c.st.Serve(in, lp.out[:0])
	if cap(out) <= maxKeptOut {
		lp.out = out[:0]
	}
	if lp.h.timed {
		now := clock()
		c.last = now
		if v == proto.Open && n < len(in) {
			if !c.head || n > 0 {
				c.headStart = now // a new head began in this read
			}
			c.head = true
		} else {
			c.head = false
		}
	}
	// Discard treats n <= 0 as "everything", so nothing consumed means no
	// call; the unconsumed head stays in gnet's inbound buffer.
	if n > 0 {
		_, _ = c.gc.Discard(n)
	}
	if len(out) == 0 {
		return c.idle()
	}
	if d := lp.h.cfg.Delay; d > 0 {
		if lp.h.cfg.DelayMode == serve.DelayTimer {
			return c.hold(out, v, d)
		}
		// Block mode sleeps inside the event loop: every connection of
		// this loop waits too, which is the point of the mode.
		time.Sleep(d)
	}
	return c.send(out, v)
}

// idle ends a read that produced no response: during Shutdown the
// connection has nothing in flight and closes.
func (c *conn) idle() gnet.Action {
	if c.lp.h.closing.Load() {
		return c.finish(false)
	}
	return gnet.None
}

// hold keeps a batch for d without blocking the loop; a timer wakes the
// connection when it is due.
func (c *conn) hold(out []byte, v proto.Verdict, d time.Duration) gnet.Action {
	a := c.aside()
	a.held = append(a.held[:0], out...)
	a.verdict = v
	c.phase = holding
	c.until = clock() + int64(d)
	c.after(d)
	return gnet.None
}

// send writes a batch of responses in one write and acts on the verdict.
func (c *conn) send(out []byte, v proto.Verdict) gnet.Action {
	if _, err := c.gc.Write(out); err != nil {
		return gnet.None // gnet has closed the connection on the failed write
	}
	c.queued += int64(len(out))
	switch {
	case v == proto.Fail || v == proto.Close && !c.lp.h.closing.Load():
		// A closing response ends like an error: half-close, then discard
		// until the client closes, so that bytes it pipelined after the
		// last answered request cannot turn the close into a reset that
		// destroys responses it has not read yet.
		return c.finish(true)
	case v == proto.Close || c.lp.h.closing.Load():
		return c.finish(false)
	case c.gc.OutboundBuffered() > maxUnsent:
		c.awaitFlush(backlog)
	}
	return gnet.None
}

// finish ends the connection once its responses are out: at once when gnet
// holds nothing unsent (the kernel sends what it has, then the FIN), else
// after the flush. Whatever the client sent since is not answered. The end
// is a close, or with drain the half-close and drain of an error.
func (c *conn) finish(drain bool) gnet.Action {
	c.head = false
	_, _ = c.gc.Discard(-1)
	if c.gc.OutboundBuffered() == 0 {
		return c.end(drain)
	}
	c.awaitFlush(ending)
	c.side.drain = drain
	return gnet.None
}

// end follows the flush of the last responses.
func (c *conn) end(drain bool) gnet.Action {
	if drain {
		return c.halfClose()
	}
	return gnet.Close
}

// halfClose follows an error response that has left gnet's buffer: shut the
// write side so the FIN comes right after the response, then discard what
// the client still sends for up to proto.DrainTimeout, so that the close
// cannot become a reset that destroys the response before it is read.
func (c *conn) halfClose() gnet.Action {
	if err := unix.Shutdown(c.gc.Fd(), unix.SHUT_WR); err != nil {
		return gnet.Close // the peer is gone already (ENOTCONN): nothing to drain
	}
	c.phase = draining
	c.until = clock() + int64(proto.DrainTimeout)
	c.after(proto.DrainTimeout)
	return gnet.None
}

// keep leaves new bytes in gnet's inbound buffer while the connection is
// not being served, dropping the connection past maxUnread.
func (c *conn) keep() gnet.Action {
	if c.gc.InboundBuffered() > maxUnread {
		return gnet.Close
	}
	return gnet.None
}

// awaitFlush enters a phase that waits for gnet's outbound buffer to drain.
func (c *conn) awaitFlush(p phase) {
	c.phase = p
	a := c.aside()
	a.every, a.unsent = 0, c.gc.OutboundBuffered()
	c.flushing()
}

// flushing arms the next look at a draining outbound buffer, sooner while
// it drains, later while it does not.
func (c *conn) flushing() {
	a := c.side
	n := c.gc.OutboundBuffered()
	switch {
	case a.every == 0 || n < a.unsent:
		a.every = minPoll
	case a.every < maxPoll:
		a.every = min(2*a.every, maxPoll)
	}
	a.unsent = n
	c.after(a.every)
}

func (c *conn) aside() *aside {
	if c.side == nil {
		c.side = new(aside)
	}
	return c.side
}

// after has the connection's loop run OnTraffic for it in d.
func (c *conn) after(d time.Duration) {
	a := c.aside()
	if a.timer == nil {
		a.timer = time.AfterFunc(d, c.wake)
		return
	}
	a.timer.Reset(d)
}

// wake runs on the timer's goroutine: only gnet's concurrency-safe Wake is
// used there.
func (c *conn) wake() { c.lp.h.wake(c.gc) }

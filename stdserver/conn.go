package stdserver

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// Buffer sizes. A connection reads into a small buffer; one that fills up
// with an incomplete head moves to a large one, which has room to read more
// however much of a head (at most proto.MaxHead bytes) is kept.
const (
	smallRead = 4 << 10
	largeRead = 2 * proto.MaxHead
	// maxPooledOut bounds the response buffers kept for reuse, so one huge
	// pipelined batch does not pin its buffer for good.
	maxPooledOut = 1 << 20
)

var (
	// readPool holds small read buffers of connections that have closed.
	readPool = sync.Pool{New: func() any { b := make([]byte, smallRead); return &b }}
	// outPool holds response buffers. A connection borrows one for each
	// batch and gives it back once written, so idle connections hold none.
	outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

// conn is one connection and what it must remember between reads.
type conn struct {
	srv *Server
	nc  *net.TCPConn
	st  proto.State

	inp  *[]byte // the pooled small read buffer, returned on close
	in   []byte  // the read buffer: *inp, or a large one once a head outgrew it
	have int     // in[:have] is the start of an incomplete head

	// Timeouts, kept only when one is set (Server.timed). The deadline set
	// on the socket (armed) is never later than the one due, so a timeout
	// cannot fire late; it may fire early, and is then moved on (see wake).
	// That keeps the timer alone on the hot path: a request updates last,
	// not the socket's deadline.
	armed     time.Time // the read deadline set on nc; zero: none
	last      time.Time // when bytes last arrived, or a batch was last written
	headStart time.Time // when the incomplete head in[:have] got its first byte, or when a write that followed it ended

	wArmed time.Time // the write deadline set on nc (see send); zero: none

	delay *time.Timer // times Config.Delay; made on first use
}

func newConn(s *Server, nc *net.TCPConn) *conn {
	inp := readPool.Get().(*[]byte)
	return &conn{srv: s, nc: nc, inp: inp, in: *inp}
}

// serve reads and answers requests until the connection ends, then closes it.
func (c *conn) serve() {
	defer c.close()
	if c.srv.timed {
		c.last = time.Now()
		if due, _ := c.due(); !due.IsZero() && !c.arm(due) {
			return
		}
	}
	for {
		if c.have == len(c.in) {
			// The small buffer is full of one incomplete head: move to one
			// that still has room once a whole MaxHead is kept.
			big := make([]byte, largeRead)
			copy(big, c.in[:c.have])
			c.in = big
		}
		// Read returns once bytes arrive: on EAGAIN the runtime parks this
		// goroutine until the netpoller reports the socket readable.
		n, err := c.nc.Read(c.in[c.have:])
		if n > 0 && !c.handle(n) {
			return
		}
		if err != nil && !c.wake(err) {
			return
		}
	}
}

// handle answers what the last read completed; it reports whether to keep
// reading.
func (c *conn) handle(n int) bool {
	var now time.Time
	if c.srv.timed {
		now = time.Now()
		c.last = now
	}
	data := c.in[:c.have+n]
	outp := outPool.Get().(*[]byte)
	out, used, verdict := c.st.Serve(data, (*outp)[:0])
	headBefore := c.have > 0
	c.have = 0
	if verdict == proto.Open && used < len(data) {
		c.have = copy(c.in, data[used:])
		if c.srv.timed && (!headBefore || used > 0) && !c.headBegan(now) {
			c.release(outp, out)
			return false
		}
	}
	ok := len(out) == 0 || c.write(out, now)
	c.release(outp, out)
	switch {
	case !ok:
		return false
	case verdict == proto.Fail || verdict == proto.Close:
		// A closing response ends like an error: closing with pipelined
		// bytes unread would send a reset that can destroy responses the
		// client has not read yet, so half-close and drain first.
		c.drain()
		return false
	}
	// During shutdown a connection closes once the responses it owed are
	// out: nothing is in flight on it any more.
	return !c.srv.closing.Load()
}

// headBegan notes that a new incomplete head got its first byte at now and
// brings the read deadline forward if the header timeout falls due before
// it; it reports whether to go on.
func (c *conn) headBegan(now time.Time) bool {
	c.headStart = now
	due, _ := c.due()
	if due.IsZero() || (!c.armed.IsZero() && !c.armed.After(due)) {
		return true
	}
	return c.arm(due)
}

// release gives a response buffer back to the pool.
func (c *conn) release(p *[]byte, out []byte) {
	if cap(out) <= maxPooledOut {
		*p = out[:0]
		outPool.Put(p)
	}
}

// write sends one batch of responses in one Write, after Config.Delay; now
// is when the batch was framed (zero when no timeout is set).
func (c *conn) write(b []byte, now time.Time) bool {
	if d := c.srv.cfg.Delay; d > 0 {
		if c.delay == nil {
			c.delay = time.NewTimer(d)
		} else {
			c.delay.Reset(d)
		}
		select {
		case <-c.delay.C:
		case <-c.srv.quit:
			c.delay.Stop()
			return false
		}
		if c.srv.timed {
			now = time.Now()
		}
	}
	ok := c.send(b, now)
	if c.srv.timed {
		// While it writes, the connection reads nothing: the time the write
		// took is activity for the idle timeout, and the header timer of
		// the incomplete head that follows the batch starts only now, when
		// the connection reads again.
		done := time.Now()
		c.last = done
		if c.have > 0 {
			c.headStart = done
		}
	}
	return ok
}

// send writes b whole, and gives up once the client has read nothing for
// the idle timeout (nginx's send_timeout): a client that pipelines and
// never reads would otherwise hold the goroutine and the fd until shutdown,
// since the read deadline does not bound a write. now is the time the write
// begins.
//
// The write deadline wakes the blocked Write every quarter of the timeout
// to see whether bytes moved, so a stalled client is closed between one and
// one and a quarter idle timeouts after its last read. A Write that does
// not block finds a deadline already set and sets none: the deadline is
// renewed only when less than an eighth of the timeout is left.
func (c *conn) send(b []byte, now time.Time) bool {
	idle := c.srv.cfg.IdleTimeout
	if idle <= 0 {
		// Write returns once all of b is out: on a short write or EAGAIN
		// the runtime parks the goroutine until the socket is writable.
		_, err := c.nc.Write(b)
		return err == nil
	}
	step := idle / 4
	if c.wArmed.Before(now.Add(step/2)) && !c.armWrite(now.Add(step)) {
		return false
	}
	progress := now
	for {
		// Write returns once all of b is out (on EAGAIN the runtime parks
		// the goroutine until the socket is writable), or at the deadline
		// with what it wrote so far.
		n, err := c.nc.Write(b)
		if err == nil {
			return true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return false // a reset, or closed by Shutdown
		}
		b = b[n:]
		t := time.Now()
		if n > 0 {
			progress = t // the client read some since the last look
		}
		if t.Sub(progress) >= idle {
			return false // nothing moved for the idle timeout
		}
		next := t.Add(step)
		if end := progress.Add(idle); end.Before(next) {
			next = end
		}
		if !c.armWrite(next) {
			return false
		}
	}
}

// armWrite sets the socket's write deadline.
func (c *conn) armWrite(t time.Time) bool {
	if c.nc.SetWriteDeadline(t) != nil {
		return false
	}
	c.wArmed = t
	return true
}

// due is when the connection times out unless bytes arrive: the header
// timeout while a head is incomplete, else the idle timeout counted from the
// last bytes received. head reports the former; zero means never.
func (c *conn) due() (t time.Time, head bool) {
	cfg := &c.srv.cfg
	if c.have > 0 && cfg.HeaderTimeout > 0 {
		return c.headStart.Add(cfg.HeaderTimeout), true
	}
	if cfg.IdleTimeout > 0 {
		return c.last.Add(cfg.IdleTimeout), false
	}
	return time.Time{}, false
}

// arm sets the socket's read deadline and reports whether to go on.
func (c *conn) arm(t time.Time) bool {
	if err := c.nc.SetReadDeadline(t); err != nil {
		return false
	}
	c.armed = t
	// Shutdown wakes idle reads with a deadline in the past; had it set one
	// just before this call, the deadline set here would hide it.
	return !c.srv.closing.Load()
}

// wake handles a failed read and reports whether to read again.
func (c *conn) wake(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false // EOF, a reset, or closed by Shutdown: the connection is over
	}
	if c.srv.closing.Load() {
		return false // Shutdown woke an idle read
	}
	due, head := c.due()
	if due.IsZero() || time.Now().Before(due) {
		// The deadline was armed early (bytes arrived since, or the header
		// timeout no longer applies): move it to the one now due.
		return c.arm(due)
	}
	if head {
		// A slow head: answer 408 in the error form, then drain.
		if c.send(proto.RequestTimeout, time.Now()) {
			c.drain()
		}
	}
	return false
}

// drain follows an error or closing response: half-close so the client sees the
// response end, then discard what it still sends for up to
// proto.DrainTimeout, so that closing does not turn into a reset that could
// destroy the response before the client reads it.
func (c *conn) drain() {
	if c.nc.CloseWrite() != nil {
		return
	}
	end := time.Now().Add(proto.DrainTimeout)
	if c.nc.SetReadDeadline(end) != nil {
		return
	}
	for {
		_, err := c.nc.Read(c.in)
		if err == nil {
			continue
		}
		// Shutdown's deadline in the past must not cut the drain short: the
		// response is already out and the client should get to read it.
		if errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(end) {
			if c.nc.SetReadDeadline(end) != nil {
				return
			}
			continue
		}
		return
	}
}

// close ends the connection and gives its buffers back.
func (c *conn) close() {
	c.srv.untrack(c)
	c.nc.Close()
	if c.delay != nil {
		c.delay.Stop()
	}
	*c.inp = (*c.inp)[:smallRead]
	readPool.Put(c.inp)
	c.in = nil
}

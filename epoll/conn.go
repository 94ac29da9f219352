package epoll

import (
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
)

// readable reads and answers. Level mode reads once per event: if bytes are
// left in the socket, epoll reports it again on the next wait, and a second
// read would mostly return EAGAIN, one wasted system call per request. Edge
// mode is told only when new bytes arrive, so it reads until EAGAIN (or
// until it stops reading the connection, which re-arms through modify), or
// bytes already queued would wait for the next arrival; but at most
// maxEdgeReads times, so that a client that sends without pause cannot hold
// the loop: then it re-arms the connection itself.
func (l *loop) readable(fd int32, c *conn) {
	for reads := 1; ; reads++ {
		if l.p.edge && reads > maxEdgeReads {
			// EPOLL_CTL_MOD polls the socket again: still readable, it goes
			// back on the ready list and the next wait reports it, after the
			// other connections' events of this batch, with no new edge.
			if err := l.p.modify(int(fd), c.seq, c.want); err != nil {
				l.close(fd, c)
			}
			return
		}
		if c.flags&flagDrain != 0 {
			if !l.discard(fd, c) || !l.p.edge {
				return
			}
			continue
		}
		k := 0
		if c.spill != 0 {
			k = copy(l.rbuf, l.spills[c.spill].in)
		}
		n, errno := read(fd, l.rbuf[k:])
		switch {
		case errno == unix.EAGAIN:
			// Level: the bytes were taken already (a spurious wake). Edge:
			// the socket is drained, which is what the loop waited for.
			return
		case errno != 0:
			// ECONNRESET and the like: the peer is gone, nobody to answer.
			l.close(fd, c)
			return
		case n == 0:
			l.eof(fd, c)
			return
		}
		in := l.rbuf[:k+n]
		out, used, verdict := c.st.Serve(in, l.wbuf[:0])
		l.wbuf = out[:0]
		l.keepIn(fd, c, in[used:], used > 0)
		if len(out) > 0 && !l.respond(fd, c, out) {
			return
		}
		switch verdict {
		case proto.Close, proto.Fail:
			// Both end the same way once the responses are out: half-close,
			// then discard what the client still sends until it closes (at
			// most proto.DrainTimeout). Closing with its pipelined bytes
			// unread would send a reset, which can destroy responses the
			// client has not read yet.
			c.flags |= flagDrain
		}
		if !l.settle(fd, c, true) || !l.p.edge || c.want&wantRead == 0 {
			return
		}
	}
}

// discard reads and drops what a client sends after an error response. It
// reports whether the connection is still open.
func (l *loop) discard(fd int32, c *conn) bool {
	n, errno := read(fd, l.rbuf)
	switch {
	case errno == unix.EAGAIN:
		return false // nothing more for now; the drain timer still runs
	case errno != 0 || n == 0:
		// The client closed or reset: the drain is over.
		l.close(fd, c)
		return false
	}
	return true
}

// eof handles the client's FIN. Everything read so far has been answered
// already, so what is left is to deliver what is still owed, then close.
func (l *loop) eof(fd int32, c *conn) {
	c.flags |= flagCloseAfter
	l.settle(fd, c, true)
}

// keepIn stores the start of an unfinished head (rest), or releases the
// stored one when there is none. progressed says that Serve got past the
// head stored before, so a stored rest is a new head and its header timer
// starts now.
func (l *loop) keepIn(fd int32, c *conn, rest []byte, progressed bool) {
	if len(rest) == 0 {
		l.dropIn(c)
		return
	}
	sp := l.attach(c)
	if sp.in == nil {
		sp.in = l.pool.get(len(rest))
	}
	sp.in = append(sp.in[:0], rest...)
	if progressed && c.list == listHead {
		l.unlink(fd, c)
	}
}

// dropIn releases the stored start of an unfinished head, if any.
func (l *loop) dropIn(c *conn) {
	if c.spill != 0 {
		sp := &l.spills[c.spill]
		l.pool.put(sp.in)
		sp.in = nil
		l.detach(c)
	}
}

// respond delivers the responses to one read, after the delay if there is
// one. It reports whether the connection is still open.
func (l *loop) respond(fd int32, c *conn, out []byte) bool {
	if l.delayTimer {
		// Hold the batch; settle stops reading and starts the delay timer,
		// so nothing else of this connection is answered before it.
		l.keepOut(c, out)
		c.flags |= flagDelayed
		return true
	}
	if l.delayBlock > 0 {
		l.sleep()
	}
	return l.write(fd, c, out)
}

// write sends b straight to the socket and keeps what it did not take, or
// queues all of it behind earlier bytes still unsent. It reports whether the
// connection is still open.
func (l *loop) write(fd int32, c *conn, b []byte) bool {
	if c.spill != 0 && len(l.spills[c.spill].out) > 0 {
		// Earlier responses are still queued: these go after them.
		l.keepOut(c, b)
		return true
	}
	b, ok := l.send(fd, c, b)
	if ok && len(b) > 0 {
		l.keepOut(c, b)
	}
	return ok
}

// send writes b and returns the part the socket did not take. Level mode
// writes once: a short write means the send buffer is full, and EPOLLOUT
// will say when it has room. Edge mode writes until EAGAIN, the only point
// after which the kernel promises a new writable edge.
func (l *loop) send(fd int32, c *conn, b []byte) ([]byte, bool) {
	for len(b) > 0 {
		n, errno := send(fd, b)
		if errno == unix.EAGAIN {
			break // the send buffer is full: keep the rest for EPOLLOUT
		}
		if errno != 0 {
			// EPIPE, ECONNRESET: the client is gone, so is the rest.
			l.close(fd, c)
			return nil, false
		}
		b = b[n:]
		if !l.p.edge {
			break
		}
	}
	return b, true
}

// flush writes the queued responses, unless they are waiting out the delay,
// and settles the connection. It reports whether the connection is still
// open.
func (l *loop) flush(fd int32, c *conn) bool {
	if c.flags&flagDelayed != 0 {
		return true
	}
	moved := false
	if c.spill != 0 {
		if sp := &l.spills[c.spill]; len(sp.out) > 0 {
			rest, ok := l.send(fd, c, sp.out)
			if !ok {
				return false
			}
			moved = len(rest) < len(sp.out)
			if len(rest) == 0 {
				l.pool.put(sp.out)
				sp.out = nil
				l.detach(c)
			} else {
				sp.out = rest
			}
		}
	}
	return l.settle(fd, c, moved)
}

// keepOut queues b after the responses already queued.
func (l *loop) keepOut(c *conn, b []byte) {
	sp := l.attach(c)
	if sp.out == nil {
		sp.out = l.pool.get(len(b))
	}
	sp.out = append(sp.out, b...)
}

// settle brings a connection's epoll interest and timer in line with what
// it holds, closes it when it has nothing more to do, and half-closes it
// once an error response is out. active says bytes moved just now. It
// reports whether the connection is still open.
func (l *loop) settle(fd int32, c *conn, active bool) bool {
	unsent, head := 0, false
	if c.spill != 0 {
		sp := &l.spills[c.spill]
		unsent, head = len(sp.out), len(sp.in) > 0
	}
	delayed := c.flags&flagDelayed != 0
	if !delayed && unsent == 0 {
		if c.flags&flagCloseAfter != 0 {
			l.close(fd, c)
			return false
		}
		if c.flags&(flagDrain|flagShut) == flagDrain {
			// The error response is out: shut the write side so the
			// client sees it end, and keep reading to discard.
			if err := unix.Shutdown(int(fd), unix.SHUT_WR); err != nil {
				l.close(fd, c)
				return false
			}
			c.flags |= flagShut
		}
	}

	var want uint8
	if !delayed {
		if unsent > 0 {
			want |= wantWrite
		}
		closing := c.flags&flagCloseAfter != 0
		if !closing && (unsent <= maxUnsent || c.flags&flagDrain != 0) {
			want |= wantRead
		}
	}
	if want != c.want {
		if err := l.p.modify(int(fd), c.seq, want); err != nil {
			l.close(fd, c)
			return false
		}
		c.want = want
	}

	// A connection that is not read (its responses are backed up) stays in
	// the idle list even with half a head kept: the header timeout runs
	// only while the server reads, and the idle timeout, restarted whenever
	// bytes move, closes a client that stops taking its responses.
	list := listIdle
	switch {
	case delayed:
		list = listDelay
	case c.flags&flagDrain != 0:
		list = listDrain
	case head && c.flags&flagCloseAfter == 0 && want&wantRead != 0:
		list = listHead
	}
	l.place(fd, c, list, active)
	return true
}

// close releases a connection: its timer, its bytes, its slot and its fd.
// Closing the fd also takes it out of the epoll set.
func (l *loop) close(fd int32, c *conn) {
	l.unlink(fd, c)
	if c.spill != 0 {
		sp := &l.spills[c.spill]
		l.pool.put(sp.in)
		l.pool.put(sp.out)
		*sp = spill{}
		l.freeSpills = append(l.freeSpills, c.spill)
	}
	*c = conn{seq: c.seq} // the slot keeps its sequence for the next connection
	closeFD(fd)
	l.count--
	l.srv.conns.Add(-1)
}

// attach gives c a spill if it has none and returns it. The pointer is
// good until the next attach.
func (l *loop) attach(c *conn) *spill {
	if c.spill == 0 {
		if k := len(l.freeSpills); k > 0 {
			c.spill = l.freeSpills[k-1]
			l.freeSpills = l.freeSpills[:k-1]
		} else {
			c.spill = int32(len(l.spills))
			l.spills = append(l.spills, spill{})
		}
	}
	return &l.spills[c.spill]
}

// detach returns c's spill once it holds nothing.
func (l *loop) detach(c *conn) {
	if sp := &l.spills[c.spill]; sp.in == nil && sp.out == nil {
		l.freeSpills = append(l.freeSpills, c.spill)
		c.spill = 0
	}
}

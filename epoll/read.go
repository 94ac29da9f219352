package epoll

import (
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
)

// receive reads and answers. Level mode reads once per event: if bytes are
// left in the socket, epoll reports it again on the next wait, and a second
// read would mostly return EAGAIN, one wasted system call per request. Edge
// mode is told only when new bytes arrive, so it reads until EAGAIN (or
// until it stops reading the connection, which re-arms through modify), or
// bytes already queued would wait for the next arrival; but at most
// maxEdgeReads times, so that a client that sends without pause cannot hold
// the loop: then it re-arms the connection itself.
func (l *loop) receive(fd int32, c *conn) {
	for reads := 1; ; reads++ {
		if l.p.edge && reads > maxEdgeReads {
			// EPOLL_CTL_MOD polls the socket again: still readable, it goes
			// back on the ready list and the next wait reports it, after the
			// other connections' events of this batch, with no new edge.
			if err := l.p.modify(int(fd), c.gen, c.want); err != nil {
				l.close(fd, c)
			}
			return
		}
		if c.state == connDraining || c.state == connDiscarding {
			if !l.discard(fd, c) || !l.p.edge {
				return
			}
			continue
		}
		k := 0
		if c.spill != 0 {
			k = copy(l.rbuf, l.spills[c.spill].in)
		}
		n, errno := readFD(fd, l.rbuf[k:])
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
			c.become(connDraining)
		}
		if !l.settle(fd, c, true) || !l.p.edge || c.want&wantRead == 0 {
			return
		}
	}
}

// discard reads and drops what a client sends after an error or closing
// response. It reports whether the connection is still open.
func (l *loop) discard(fd int32, c *conn) bool {
	n, errno := readFD(fd, l.rbuf)
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
	c.become(connClosing)
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

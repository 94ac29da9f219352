package epoll

import "golang.org/x/sys/unix"

// respond delivers the responses to one read, after the delay if there is
// one. It reports whether the connection is still open.
func (l *loop) respond(fd int32, c *conn, out []byte) bool {
	if l.delayTimer {
		// Hold the batch: a delayed connection is neither read nor written
		// until its timer fires, so nothing else of it is answered first.
		l.keepOut(c, out)
		c.hold()
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
		n, errno := sendFD(fd, b)
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
	if c.state == connDelayed {
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

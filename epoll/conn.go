package epoll

import (
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
)

// conn is what a connection keeps between events, and nothing more: an idle
// keep-alive connection is one of these (48 bytes, no pointers, so the
// garbage collector never scans the table) plus the kernel's socket. Bytes
// that must outlive an event live in a spill, attached only while there are
// some.
type conn struct {
	st    proto.State // the framing state: body bytes still to skip
	since int64       // when the connection entered its timer list (loop clock, ns)
	spill int32       // index in loop.spills; 0: no bytes kept
	prev  int32       // neighbours in the timer list named by list (fds; -1: none)
	next  int32
	gen   uint32    // tags this slot's registrations; one more for each connection, kept across closes
	state connState // what the connection is doing; connFree: the slot is free
	after connState // connDelayed only: the state the connection is in once its batch is out
	list  uint8     // which timer list holds the connection (listNone: none)
	want  uint8     // the interest registered with epoll (want* bits)
}

// spill holds the bytes one connection must keep between events: the start
// of a request head that is not complete yet, and responses not yet written.
// Either slice is nil when there is nothing in it.
type spill struct {
	in  []byte
	out []byte
}

// connState is what a connection is doing. Each state fixes whether the
// connection is read and which timer runs for it (rules). The moves:
//
//	reading <-> backpressured  settle, as the unsent bytes cross maxUnsent
//	reading -> delayed         respond holds a batch (hold); its timer ends
//	                           the delay (release), back to the state kept
//	                           in after
//	reading -> draining        a Close or Fail verdict, a header timeout
//	reading -> closing         the client's FIN, or Shutdown (any state)
//	draining -> discarding     settle, once the response is out: shuts the
//	                           write side
//	closing -> free            settle, once nothing is owed
//	any -> free                close: a reset, a hang-up, a timer, an abort
type connState uint8

const (
	connFree          connState = iota // the slot holds no connection
	connReading                        // reads requests and answers them
	connBackpressured                  // more than maxUnsent bytes unsent: not read until they drain
	connDelayed                        // a batch of responses waits out the delay: neither read nor written
	connClosing                        // no more requests (the client's FIN, Shutdown): delivers what it owes, then closes
	connDraining                       // an error or closing response is owed: delivers it, discarding input, then shuts its write side
	connDiscarding                     // the write side is shut: discards input until the client closes or the drain timer ends
)

// rules gives each state its interest in reading and its timer list. A
// state that is not read runs no header timer: only the idle timer, which
// every byte written restarts, runs for a connection whose responses are
// backed up, and closes it once they make no progress.
var rules = [...]struct {
	read bool
	list uint8
}{
	connReading:       {true, listIdle}, // listHead while half a head is kept
	connBackpressured: {false, listIdle},
	connDelayed:       {false, listDelay},
	connClosing:       {false, listIdle},
	connDraining:      {true, listDrain},
	connDiscarding:    {true, listDrain},
}

// become moves c to s; while a batch is delayed, s is where c goes once the
// batch is out.
func (c *conn) become(s connState) {
	if c.state == connDelayed {
		c.after = s
		return
	}
	c.state = s
}

// hold delays c's queued batch; release ends the delay.
func (c *conn) hold() { c.state, c.after = connDelayed, c.state }

func (c *conn) release() { c.state, c.after = c.after, connFree }

// settle is the connection's transition function. From its state and what
// it holds now it picks the next state; it closes the connection, or shuts
// its write side, where the state says so once nothing is owed; and it
// brings the epoll interest and the timer in line with the new state.
// active says bytes moved just now (an idle timer starts again). It reports
// whether the connection is still open.
func (l *loop) settle(fd int32, c *conn, active bool) bool {
	unsent, head := 0, false
	if c.spill != 0 {
		sp := &l.spills[c.spill]
		unsent, head = len(sp.out), len(sp.in) > 0
	}
	switch c.state {
	case connReading, connBackpressured:
		c.state = connReading
		if unsent > maxUnsent {
			c.state = connBackpressured
		}
	case connClosing:
		if unsent == 0 {
			l.close(fd, c)
			return false
		}
	case connDraining:
		if unsent == 0 {
			// The error response is out: shut the write side so the
			// client sees it end, and keep reading to discard.
			if err := unix.Shutdown(int(fd), unix.SHUT_WR); err != nil {
				l.close(fd, c)
				return false
			}
			c.state = connDiscarding
		}
	}

	r := rules[c.state]
	var want uint8
	if r.read {
		want |= wantRead
	}
	if unsent > 0 && c.state != connDelayed {
		want |= wantWrite
	}
	if want != c.want {
		if err := l.p.modify(int(fd), c.gen, want); err != nil {
			l.close(fd, c)
			return false
		}
		c.want = want
	}
	list := r.list
	if c.state == connReading && head {
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
	*c = conn{gen: c.gen} // the slot keeps its generation for the next connection
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

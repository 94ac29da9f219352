package epoll

import (
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// Timers. Every timeout of a loop has one fixed duration (idle, header,
// delay, drain), so a connection's deadline is the time it entered its list
// plus that duration, and appending at the tail keeps each list sorted by
// deadline. Each list is intrusive and doubly linked through the fds stored
// in the connections, so moving a connection costs a few stores, finding the
// next deadline looks at four heads, and 100000 idle connections cost
// nothing until one of them expires. The nearest deadline becomes
// epoll_wait's timeout: no timerfd, no extra system call.

// Timer lists; a connection is in at most one.
const (
	listNone  uint8 = iota
	listIdle        // IdleTimeout after the last bytes moved: no request in progress, or responses backed up
	listHead        // a head unfinished: HeaderTimeout after its first byte
	listDelay       // a batch of responses held back: Delay after it was made
	listDrain       // answered with an error: DrainTimeout after the answer
	listCount
)

type timerList struct {
	head, tail int32 // fds; -1 when empty
}

// place puts c in list. A connection already there stays where it is,
// unless it is idle and bytes moved (active): then its clock restarts.
// A list whose timeout is 0 holds nobody.
func (l *loop) place(fd int32, c *conn, list uint8, active bool) {
	if c.list == list && (list != listIdle || !active) {
		return
	}
	l.unlink(fd, c)
	if l.timeouts[list] == 0 {
		return
	}
	t := &l.lists[list]
	c.list, c.since, c.prev, c.next = list, l.now, t.tail, -1
	if t.tail >= 0 {
		l.conns.get(t.tail).next = fd
	} else {
		t.head = fd
	}
	t.tail = fd
}

// unlink takes c out of its list, if any.
func (l *loop) unlink(fd int32, c *conn) {
	if c.list == listNone {
		return
	}
	t := &l.lists[c.list]
	if c.prev >= 0 {
		l.conns.get(c.prev).next = c.next
	} else {
		t.head = c.next
	}
	if c.next >= 0 {
		l.conns.get(c.next).prev = c.prev
	} else {
		t.tail = c.prev
	}
	c.list, c.prev, c.next = listNone, -1, -1
}

// timeout is how long the next wait may block, in milliseconds: until the
// nearest deadline, or -1 for no deadline.
func (l *loop) timeout() int {
	next := int64(-1)
	for list := listIdle; list < listCount; list++ {
		if fd := l.lists[list].head; fd >= 0 {
			d := l.conns.get(fd).since + l.timeouts[list]
			if next < 0 || d < next {
				next = d
			}
		}
	}
	if l.paused && (next < 0 || l.resumeAt < next) {
		next = l.resumeAt
	}
	if next < 0 {
		return -1
	}
	return ceilMillis(next - int64(time.Since(l.base)))
}

// ceilMillis turns a wait of d ns into epoll_wait's milliseconds, rounded
// up so that a wait never ends before its deadline (the loop would find
// nothing due and spin); 0 when d has passed.
func ceilMillis(d int64) int {
	if d <= 0 {
		return 0
	}
	return int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// expire fires every timer whose deadline has passed.
func (l *loop) expire() {
	if l.paused && l.now >= l.resumeAt {
		l.resumeAccept()
	}
	for list := listIdle; list < listCount; list++ {
		for {
			fd := l.lists[list].head
			if fd < 0 {
				break
			}
			c := l.conns.get(fd)
			if c.since+l.timeouts[list] > l.now {
				break
			}
			// Every case below leaves the list or closes, so this ends.
			l.unlink(fd, c)
			switch list {
			case listIdle, listDrain:
				l.close(fd, c)
			case listHead:
				l.headTimeout(fd, c)
			case listDelay:
				c.release()
				l.flush(fd, c)
			}
		}
	}
}

// headTimeout answers a head that took too long with 408 and treats the
// connection as after any error.
func (l *loop) headTimeout(fd int32, c *conn) {
	l.dropIn(c)
	c.become(connDraining)
	if !l.write(fd, c, proto.RequestTimeout) {
		return
	}
	l.settle(fd, c, false)
}

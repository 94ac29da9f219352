package trace

import (
	"fmt"
	"strings"
	"time"
)

// noter writes the one-line explanation of each call. It keeps what it needs
// to tell a story across calls: which fds saw EAGAIN (a parked goroutine or a
// drained socket), which futex waits each wake ended.
type noter struct {
	fds     *fdTable
	threads map[int]Thread
	waits   map[string][]wait // futex address -> waits on it
	parked  map[int64]bool    // fds whose last read or accept returned EAGAIN
}

type wait struct {
	tid        int
	start, end time.Time
}

func newNoter(calls []Call, fds *fdTable, threads []Thread) *noter {
	n := &noter{fds: fds, threads: map[int]Thread{}, waits: map[string][]wait{}, parked: map[int64]bool{}}
	for _, t := range threads {
		n.threads[t.TID] = t
	}
	for _, c := range calls {
		if c.Name == "futex" && strings.Contains(c.Arg(1), "WAIT") {
			n.waits[c.Arg(0)] = append(n.waits[c.Arg(0)], wait{c.TID, c.Start, c.End()})
		}
	}
	return n
}

func (n *noter) label(tid int) string {
	if t, ok := n.threads[tid]; ok {
		return t.Label
	}
	return fmt.Sprint(tid)
}

func (n *noter) role(tid int) string { return n.threads[tid].Role }

// noise reports calls left out of the sequence (they are still counted):
// sysmon's sleeps, futex calls that neither woke a thread nor slept, and
// non-blocking polls that found nothing.
func (n *noter) noise(c Call) bool {
	r, _ := c.Result()
	switch c.Name {
	case "nanosleep", "clock_nanosleep":
		return n.role(c.TID) == RoleSysmon
	case "futex":
		if strings.Contains(c.Arg(1), "WAKE") {
			return r < 1
		}
		return c.Dur < time.Millisecond
	case "epoll_pwait", "epoll_pwait2", "epoll_wait":
		t, _ := c.IntArg(3)
		return t == 0 && r == 0
	}
	return false
}

// step renders call i with its note; at is the start of its section.
func (n *noter) step(i int, c Call, from time.Time) Step {
	return Step{At: c.At().Sub(from), Thread: n.label(c.TID), Text: n.render(c), Note: n.note(c)}
}

func (n *noter) note(c Call) string {
	r, ok := c.Result()
	fd, _ := c.IntArg(0)
	f := n.fds.get(fd)
	switch c.Name {
	case "socket":
		if got := n.fds.get(r); got.kind == fdListener {
			return "the listening socket, nonblocking"
		}
		return "closed again without listening: a probe of what the kernel supports"
	case "setsockopt":
		return setsockoptNote(c.Arg(2))
	case "bind":
		return ""
	case "listen":
		return "the kernel queues new connections; the listener turns readable when one is waiting"
	case "epoll_create1":
		if n.fds.get(r).kind == fdNetpoll {
			return "netpollinit: the runtime's one epoll instance for every socket of the process"
		}
		return "the loop's own epoll instance"
	case "eventfd2":
		if n.fds.get(r).runtime {
			return "netpollinit: the eventfd netpollBreak writes to wake a thread blocked in epoll_pwait"
		}
		return "an eventfd another thread writes to wake the loop"
	case "timerfd_create":
		return "a timer the loop can wait for in epoll, beside its sockets"
	case "timerfd_settime":
		return "arms the timer: the delayed responses go out when it fires, the loop keeps serving meanwhile"
	case "epoll_ctl":
		return n.ctlNote(c)
	case "epoll_wait", "epoll_pwait", "epoll_pwait2":
		return n.waitNote(c)
	case "accept4", "accept":
		if c.Errno == "EAGAIN" {
			n.parked[fd] = true
			if n.fds.get(fd).kind == fdListener && n.role(c.TID) != RoleLoop && n.role(c.TID) != RoleAcceptor {
				return "EAGAIN: no connection waiting; the accepting goroutine parks until the netpoller reports the listener readable"
			}
			return "EAGAIN: the accept queue is empty, stop accepting until the next readiness event"
		}
		if ok && r >= 0 {
			delete(n.parked, fd)
			name := n.fds.get(r).name
			if n.role(c.TID) == RoleM || n.role(c.TID) == RoleMPoll {
				return "accepts " + name + "; Go's net will register it with netpollopen"
			}
			return "accepts " + name
		}
	case "read", "recvfrom":
		return n.readNote(c, f, r, ok)
	case "write", "writev", "sendto", "sendmsg":
		switch {
		case f.kind == fdEventfd && f.runtime:
			return "netpollBreak: wakes the thread blocked in epoll_pwait"
		case f.kind == fdEventfd:
			return "wakes the loop through its eventfd"
		case f.kind == fdConn && c.Errno == "EAGAIN":
			return "EAGAIN: the socket's send buffer is full; keep the rest and wait for EPOLLOUT"
		case f.kind == fdConn:
			return fmt.Sprintf("writes the response (%d bytes) straight to the socket", r)
		}
	case "close":
		if f.kind == fdConn {
			return "closes " + f.name
		}
	case "shutdown":
		return "half-closes the connection"
	case "getsockname":
		return "Go's accept asks for the local address"
	case "futex":
		return n.futexNote(c, r)
	case "nanosleep", "clock_nanosleep":
		if c.Dur >= 10*time.Millisecond {
			return fmt.Sprintf("sleeps %s on this thread: nothing else it owns can run meanwhile", round(c.Dur))
		}
	}
	return ""
}

func setsockoptNote(opt string) string {
	switch opt {
	case "TCP_NODELAY":
		return "TCP_NODELAY: small responses leave at once"
	case "SO_REUSEPORT":
		return "SO_REUSEPORT: several listeners may share the port, the kernel spreads connections"
	case "SO_REUSEADDR":
		return "SO_REUSEADDR: restart without waiting for old connections in TIME_WAIT"
	case "SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT":
		return "Go's net turns on TCP keep-alive for accepted connections"
	case "IPV6_V6ONLY":
		return "part of Go's probe for IPv6 support"
	}
	return ""
}

func (n *noter) ctlNote(c Call) string {
	target, _ := c.IntArg(2)
	name := n.fds.get(target).name
	mask := eventMask(c.Arg(3))
	ep, _ := c.IntArg(0)
	switch {
	case strings.Contains(c.Arg(1), "DEL"):
		return "removes " + name + " from the interest list before closing it"
	case n.fds.get(ep).kind == fdNetpoll && n.fds.get(target).kind == fdEventfd:
		return "registers netpollBreak's eventfd (EPOLLIN)"
	case n.fds.get(ep).kind == fdNetpoll:
		return "netpollopen: registered once for its lifetime, edge-triggered, for reading and writing"
	case strings.Contains(c.Arg(1), "MOD") && strings.Contains(mask, "EPOLLOUT"):
		return "arms EPOLLOUT: tell the loop when the rest of the response can be written"
	case strings.Contains(c.Arg(1), "MOD"):
		return "changes " + name + "'s interest to " + mask
	}
	trig := "level-triggered: reported as long as unread bytes remain"
	if strings.Contains(mask, "EPOLLET") {
		trig = "edge-triggered: reported once per arrival, so read until EAGAIN"
	}
	if strings.Contains(mask, "EPOLLEXCLUSIVE") {
		trig += "; EPOLLEXCLUSIVE wakes one loop per connection, not all"
	}
	return fmt.Sprintf("registers %s (%s), %s", name, mask, trig)
}

func (n *noter) waitNote(c Call) string {
	ep, _ := c.IntArg(0)
	timeout, forever, _ := c.WaitTimeout()
	poll := timeout == 0 && !forever
	r, _ := c.Result()
	netpoll := n.fds.get(ep).kind == fdNetpoll
	var ready []string
	for _, e := range n.fds.readyEvents(ep, c.Arg(1)) {
		f := n.fds.get(e.fd)
		switch f.kind {
		case fdListener:
			ready = append(ready, "the listener readable (a connection waits)")
		case fdConn:
			what := "readable"
			if strings.Contains(e.events, "RDHUP") {
				what = "closed by the client (EPOLLRDHUP)"
			} else if !strings.Contains(e.events, "EPOLLIN") {
				what = "writable"
			}
			ready = append(ready, f.name+" "+what)
		case fdEventfd:
			ready = append(ready, "its eventfd (a wake-up)")
		case fdTimerfd:
			ready = append(ready, "its timer expired")
		default:
			ready = append(ready, e.events)
		}
	}
	who := "the loop"
	if poll {
		who = "the loop's non-blocking poll"
	}
	if netpoll {
		who = "netpoll"
		if n.role(c.TID) == RoleSysmon {
			who = "sysmon's netpoll(0)"
		} else if poll {
			who = "the scheduler's netpoll(0)"
		}
	}
	if r <= 0 {
		if poll {
			return who + " polls without blocking: nothing ready"
		}
		return fmt.Sprintf("%s waited %s: nothing ready (timeout)", who, round(c.Dur))
	}
	s := who + " reports " + strings.Join(ready, ", ")
	if c.Dur >= time.Millisecond {
		s += fmt.Sprintf(" after blocking %s", round(c.Dur))
	}
	if netpoll && len(ready) > 0 {
		s += n.wakeups(ep, c.Arg(1))
	}
	return s
}

// wakeups says what netpoll does with the sockets it reports: a goroutine
// parked on one becomes runnable; otherwise the readiness is kept in the
// socket's pollDesc for the next read.
func (n *noter) wakeups(ep int64, list string) string {
	waiting, kept := 0, 0
	for _, e := range n.fds.readyEvents(ep, list) {
		switch {
		case n.fds.get(e.fd).kind == fdEventfd:
		case n.parked[e.fd] && readable(e.events):
			waiting++
		default:
			kept++
		}
	}
	switch {
	case waiting > 0 && kept == 0:
		return ": the goroutine parked on it becomes runnable"
	case waiting == 0 && kept > 0:
		return ": no goroutine waits for that yet, the socket's pollDesc remembers it"
	case waiting > 0:
		return ": parked goroutines become runnable, the others' pollDescs remember it"
	}
	return ""
}

// readable reports events that end a wait to read: data, or a hang-up or
// error the read will return.
func readable(events string) bool {
	return strings.Contains(events, "EPOLLIN") || strings.Contains(events, "HUP") || strings.Contains(events, "ERR")
}

func (n *noter) readNote(c Call, f fd, r int64, ok bool) string {
	fd, _ := c.IntArg(0)
	switch {
	case f.kind == fdEventfd:
		return "drains the eventfd"
	case f.kind == fdTimerfd:
		return "reads the timer's expirations"
	case f.kind != fdConn:
		return ""
	case c.Errno == "EAGAIN":
		n.parked[fd] = true
		if n.role(c.TID) == RoleLoop {
			return "EAGAIN: nothing more to read now; wait for the next readiness event"
		}
		return "EAGAIN: FD.Read calls pollDesc.waitRead, the goroutine parks (gopark) and its thread moves on"
	case ok && r == 0:
		return "EOF: the client closed " + f.name
	case ok && r > 0:
		again := ""
		if n.parked[fd] && n.role(c.TID) != RoleLoop {
			again = "the parked goroutine runs again and "
		}
		delete(n.parked, fd)
		return fmt.Sprintf("%sreads a request (%d bytes)", again, r)
	}
	return ""
}

func (n *noter) futexNote(c Call, r int64) string {
	if strings.Contains(c.Arg(1), "WAKE") {
		var woken []string
		for _, w := range n.waits[c.Arg(0)] {
			if w.tid != c.TID && !w.start.After(c.End()) && !w.end.Before(c.Start) {
				t := n.threads[w.tid]
				woken = append(woken, fmt.Sprintf("%s (%s)", t.Label, t.Role))
			}
		}
		if len(woken) == 0 {
			return "wakes a sleeping thread"
		}
		return "wakes " + strings.Join(woken, ", ")
	}
	if n.role(c.TID) == RoleSysmon {
		return fmt.Sprintf("sysmon slept %s: the process was idle", round(c.Dur))
	}
	return fmt.Sprintf("slept %s on a futex: nothing to run until woken", round(c.Dur))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

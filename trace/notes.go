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
	model   string // the traced model, named in the pointer to readiness journey
	fds     *fdTable
	threads map[int]Thread
	waits   map[string][]wait // futex address -> waits on it
	parked  map[int64]bool    // fds whose last read or accept returned EAGAIN, or whose last wait found nothing
	nested  map[int64]bool    // the loop's epoll instances registered in the runtime's netpoller
}

type wait struct {
	tid        int
	start, end time.Time
}

func newNoter(model string, calls []Call, fds *fdTable, threads []Thread) *noter {
	n := &noter{model: model, fds: fds, threads: map[int]Thread{}, waits: map[string][]wait{}, parked: map[int64]bool{}, nested: map[int64]bool{}}
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
	nt := n.note(c)
	return Step{At: c.At().Sub(from), Thread: n.label(c.TID), Text: n.render(c),
		Note: nt.text(n.model), Inferred: nt.guess != ""}
}

func (n *noter) note(c Call) note {
	r, ok := c.Result()
	fd, _ := c.IntArg(0)
	f := n.fds.get(fd)
	switch c.Name {
	case "socket":
		switch got := n.fds.get(r); {
		case got.kind == fdListener:
			return seen("the listening socket, nonblocking")
		case got.reservesPort:
			return inferred("a socket that never listens, given SO_REUSEPORT", "it holds the port the listeners then bind")
		}
		return inferred("a socket that never listens", "Go's net probing what the kernel supports")
	case "setsockopt":
		return setsockoptNote(c.Arg(2))
	case "bind":
		return note{}
	case "listen":
		return seen("the kernel queues new connections; the listener turns readable when one is waiting")
	case "epoll_create1":
		if n.fds.get(r).kind == fdNetpoll {
			return inferred("the epoll instance every socket of the process is registered in",
				"netpollinit creates it, once per process, for the runtime's netpoller")
		}
		return seen("the loop's own epoll instance")
	case "eventfd2":
		if n.fds.get(r).runtime {
			return inferred("an eventfd, registered in the same epoll instance",
				"netpollinit makes it for netpollBreak, which writes it to wake a thread blocked in epoll_pwait")
		}
		return seen("an eventfd: another thread writes it, the loop's epoll wait reports it")
	case "timerfd_create":
		return seen("a timer the loop can wait for in epoll, beside its sockets")
	case "timerfd_settime":
		return seen("arms the timer: the delayed responses go out when it fires, the loop keeps serving meanwhile")
	case "epoll_ctl":
		return n.ctlNote(c)
	case "epoll_wait", "epoll_pwait", "epoll_pwait2":
		return n.waitNote(c)
	case "accept4", "accept":
		return n.acceptNote(c, fd, r, ok)
	case "read", "recvfrom":
		return n.readNote(c, f, r, ok)
	case "write", "writev", "sendto", "sendmsg":
		switch {
		case f.kind == fdEventfd && f.runtime:
			return observedBy(inferred("writes netpoll's eventfd", "netpollBreak, which wakes the thread blocked in epoll_pwait"))
		case f.kind == fdEventfd:
			return observedBy(inferred("writes the loop's eventfd", "wakes the loop from its epoll wait"))
		case f.kind == fdConn && c.Errno == "EAGAIN":
			return seen("EAGAIN: the socket's send buffer is full; keep the rest and wait for EPOLLOUT")
		case f.kind == fdConn:
			return seen(fmt.Sprintf("writes the response (%d bytes) straight to the socket", r))
		}
	case "close":
		if f.kind == fdConn {
			return seen("closes " + f.name)
		}
	case "shutdown":
		return seen("half-closes the connection")
	case "getsockname":
		return inferred("asks for the socket's local address", "Go's accept filling in the connection's addresses")
	case "futex":
		return n.futexNote(c, r)
	case "nanosleep", "clock_nanosleep":
		if c.Dur >= 10*time.Millisecond {
			return inferred(fmt.Sprintf("sleeps %s on this thread", round(c.Dur)), "nothing else it serves can run meanwhile")
		}
	}
	return note{}
}

func setsockoptNote(opt string) note {
	switch opt {
	case "TCP_NODELAY":
		return seen("TCP_NODELAY: small responses leave at once")
	case "SO_REUSEPORT":
		return seen("SO_REUSEPORT: several listeners may share the port, the kernel spreads connections")
	case "SO_REUSEADDR":
		return seen("SO_REUSEADDR: restart without waiting for old connections in TIME_WAIT")
	case "SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT":
		return inferred("TCP keep-alive for this connection", "Go's net turns it on for every accepted connection")
	case "IPV6_V6ONLY":
		return inferred("", "part of Go's probe for IPv6 support")
	}
	return note{}
}

func (n *noter) ctlNote(c Call) note {
	target, _ := c.IntArg(2)
	name := n.fds.get(target).name
	mask := eventMask(c.Arg(3))
	ep, _ := c.IntArg(0)
	switch {
	case strings.Contains(c.Arg(1), "DEL"):
		return seen("removes " + name + " from the interest list before closing it")
	case n.fds.get(ep).kind == fdNetpoll && n.fds.get(target).kind == fdEventfd:
		return inferred("registers the eventfd for reading", "netpollinit, so that netpollBreak can wake netpoll")
	case n.fds.get(ep).kind == fdNetpoll && n.fds.get(target).kind == fdEpoll:
		n.nested[target] = true
		return inferred("registers the loop's own epoll instance edge-triggered: an epoll fd is itself pollable",
			"the loop's idle path, so that it can park its goroutine on its set (after its hold with -idle hold, at once with -idle park)")
	case n.fds.get(ep).kind == fdNetpoll:
		return inferred("registers "+name+" edge-triggered, for reading and writing",
			"netpollopen, which registers a socket once for its lifetime")
	case strings.Contains(c.Arg(1), "MOD") && strings.Contains(mask, "EPOLLOUT"):
		return seen("arms EPOLLOUT: tell the loop when the rest of the response can be written")
	case strings.Contains(c.Arg(1), "MOD"):
		return seen("changes " + name + "'s interest to " + mask)
	}
	trig := "level-triggered: reported as long as unread bytes remain"
	if strings.Contains(mask, "EPOLLET") {
		trig = "edge-triggered: reported once per arrival, so read until EAGAIN"
	}
	if strings.Contains(mask, "EPOLLEXCLUSIVE") {
		trig += "; EPOLLEXCLUSIVE wakes one loop per connection, not all"
	}
	return seen(fmt.Sprintf("registers %s (%s), %s", name, mask, trig))
}

func (n *noter) waitNote(c Call) note {
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
		case fdEpoll:
			ready = append(ready, "the loop's epoll instance readable (events wait in its set)")
		default:
			ready = append(ready, e.events)
		}
	}
	who, caller := "the loop", ""
	if poll {
		who = "the loop's non-blocking poll"
	}
	if netpoll {
		who = "netpoll"
		if n.role(c.TID) == RoleSysmon {
			who = "sysmon's netpoll(0)"
		} else if poll {
			who, caller = "netpoll(0)", "the scheduler polls while it looks for work"
		}
	}
	if n.nested[ep] {
		// The loop parks on its set only after a wait that found nothing.
		n.parked[ep] = r == 0
	}
	var nt note
	switch {
	case r <= 0 && poll:
		nt = seen(who + " polls without blocking: nothing ready")
	case r <= 0:
		nt = seen(fmt.Sprintf("%s waited %s: nothing ready (timeout)", who, round(c.Dur)))
	default:
		nt = seen(who + " reports " + strings.Join(ready, ", "))
		if c.Dur >= time.Millisecond {
			nt.seen += fmt.Sprintf(" after blocking %s", round(c.Dur))
		}
		if netpoll && len(ready) > 0 {
			nt = n.wakeups(nt, ep, c.Arg(1))
		}
	}
	if caller != "" {
		nt.guess = strings.TrimSuffix(caller+"; "+nt.guess, "; ")
	}
	return nt
}

// wakeups adds what netpoll does with the fds it reports: a goroutine
// parked on one becomes runnable; otherwise the readiness is kept in the
// fd's pollDesc for the next read (or, for a loop's epoll set, the next park).
func (n *noter) wakeups(nt note, ep int64, list string) note {
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
		return observedBy(inferred(nt.seen, "the goroutine parked on it becomes runnable"))
	case waiting == 0 && kept > 0:
		return inferred(nt.seen, "no goroutine waits for that yet, its pollDesc remembers it")
	case waiting > 0:
		return observedBy(inferred(nt.seen, "parked goroutines become runnable, the others' pollDescs remember it"))
	}
	return nt
}

// readable reports events that end a wait to read: data, or a hang-up or
// error the read will return.
func readable(events string) bool {
	return strings.Contains(events, "EPOLLIN") || strings.Contains(events, "HUP") || strings.Contains(events, "ERR")
}

func (n *noter) acceptNote(c Call, fd, r int64, ok bool) note {
	loop := n.role(c.TID) == RoleLoop || n.role(c.TID) == RoleAcceptor
	switch {
	case c.Errno == "EAGAIN":
		n.parked[fd] = true
		if n.fds.get(fd).kind == fdListener && !loop {
			return inferred("EAGAIN: no connection waiting",
				"the accepting goroutine parks until netpoll reports the listener readable")
		}
		return seen("EAGAIN: the accept queue is empty, stop accepting until the next readiness event")
	case ok && r >= 0:
		delete(n.parked, fd)
		name := n.fds.get(r).name
		if n.role(c.TID) == RoleM || n.role(c.TID) == RoleMPoll {
			return inferred("accepts "+name, "Go's net will register it with netpollopen")
		}
		return seen("accepts " + name)
	}
	return note{}
}

func (n *noter) readNote(c Call, f fd, r int64, ok bool) note {
	fd, _ := c.IntArg(0)
	switch {
	case f.kind == fdEventfd:
		return seen("drains the eventfd")
	case f.kind == fdTimerfd:
		return seen("reads the timer's expirations")
	case f.kind != fdConn:
		return note{}
	case c.Errno == "EAGAIN":
		n.parked[fd] = true
		if n.role(c.TID) == RoleLoop {
			return seen("EAGAIN: nothing more to read now; wait for the next readiness event")
		}
		return inferred("EAGAIN: nothing to read yet",
			"FD.Read calls pollDesc.waitRead, the goroutine parks (gopark) and its thread moves on")
	case ok && r == 0:
		return seen("EOF: the client closed " + f.name)
	case ok && r > 0:
		parked := n.parked[fd] && n.role(c.TID) != RoleLoop
		delete(n.parked, fd)
		nt := seen(fmt.Sprintf("reads a request (%d bytes)", r))
		if parked {
			return observedBy(inferred(nt.seen, "the parked goroutine runs again"))
		}
		return nt
	}
	return note{}
}

func (n *noter) futexNote(c Call, r int64) note {
	if strings.Contains(c.Arg(1), "WAKE") {
		did := fmt.Sprintf("wakes %d waiting threads", r)
		if r == 1 {
			did = "wakes 1 waiting thread"
		}
		var woken []string
		for _, w := range n.waits[c.Arg(0)] {
			if w.tid != c.TID && !w.start.After(c.End()) && !w.end.Before(c.Start) {
				t := n.threads[w.tid]
				woken = append(woken, fmt.Sprintf("%s (%s)", t.Label, t.Role))
			}
		}
		if len(woken) == 0 {
			return seen(did)
		}
		return observedBy(inferred(did, strings.Join(woken, ", ")+", whose wait on this futex ends now"))
	}
	slept := fmt.Sprintf("slept %s on a futex", round(c.Dur))
	if n.role(c.TID) == RoleSysmon {
		return inferred("sysmon "+slept, "the process was idle")
	}
	return observedBy(inferred(slept, "nothing to run on this thread until woken"))
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

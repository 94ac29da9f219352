package trace

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// fdKind is what a file descriptor is in the traced server.
type fdKind int

const (
	fdOther    fdKind = iota
	fdSocket          // a socket not (yet) known to be a listener
	fdListener        // a socket listen() was called on
	fdConn            // an accepted connection
	fdEpoll           // an epoll instance the program waits on itself
	fdNetpoll         // the Go runtime's epoll instance (netpollinit)
	fdEventfd         // an eventfd used to wake a waiter
	fdTimerfd
)

// fd is what is known about one descriptor while walking the trace.
type fd struct {
	kind    fdKind
	name    string // "conn#1", "listener", ...
	runtime bool   // an eventfd registered in the runtime's epoll instance
	// reservesPort marks a socket that never listens but is given
	// SO_REUSEPORT: it holds a port for listeners that bind it after.
	reservesPort bool
}

// fdTable follows descriptors through the trace: created by socket, accept4,
// epoll_create1, eventfd2 or timerfd_create, named, and forgotten on close.
type fdTable struct {
	fds map[int64]fd
	// runtimeEpoll holds the Go runtime's epoll fds: those with a
	// registration whose data word is a pointer (netpollopen stores a tagged
	// *pollDesc, netpollinit the address of netpollEventFd), where the
	// event loops of this lab (ours and gnet's) store the fd itself.
	runtimeEpoll map[int64]bool
	// addedTo is the epoll fd each fd was first registered in.
	addedTo map[int64]int64
	// listened holds the index of each socket() call whose fd was later
	// passed to listen(), so the socket can be named when it is created.
	listened map[int]bool
	// reuseport holds the index of each socket() call whose fd was given
	// SO_REUSEPORT.
	reuseport map[int]bool
	// data maps an epoll registration's data word to the fd registered, per
	// epoll fd: the runtime stores a pointer there, not the fd.
	data      map[[2]uint64]int64
	conns     map[int]string // client port -> connection name
	connOrder []string       // the client's connections in the order they connected
	nconn     int
}

// pointerData is the smallest epoll data word taken for a pointer: fds stay
// below it (fs.nr_open is at most 1<<20), static and heap addresses do not.
const pointerData = 1 << 20

// isPointer says whether an epoll data word is one of the runtime's
// pointers rather than a tag of the lab's loops. The epoll loop stores a
// key in the low 32 bits (the fd, or a negative number for its eventfd and
// listener) and a generation in the high 32, so its words can be large;
// their low half, read as that key, is a small fd or negative. The
// runtime's first registration, its eventfd's, carries a plain address,
// whose low half is neither.
func isPointer(d uint64) bool {
	return d >= pointerData && int32(uint32(d)) >= pointerData
}

func newFDTable(calls []Call, conns []Conn) *fdTable {
	t := &fdTable{
		fds:          map[int64]fd{},
		runtimeEpoll: map[int64]bool{},
		listened:     map[int]bool{},
		reuseport:    map[int]bool{},
		data:         map[[2]uint64]int64{},
		conns:        map[int]string{},
		addedTo:      map[int64]int64{},
	}
	for _, c := range conns {
		t.conns[c.Port] = c.Name
		t.connOrder = append(t.connOrder, c.Name)
	}
	socketAt := map[int64]int{} // fd -> index of the socket() call that made it
	for i, c := range calls {
		n, ok := c.Result()
		switch {
		case c.Name == "socket" && ok && n >= 0:
			socketAt[n] = i
		case c.Name == "setsockopt" && c.Arg(2) == "SO_REUSEPORT":
			if f, ok := c.IntArg(0); ok {
				if at, ok := socketAt[f]; ok {
					t.reuseport[at] = true
				}
			}
		case c.Name == "listen":
			if f, ok := c.IntArg(0); ok {
				if at, ok := socketAt[f]; ok {
					t.listened[at] = true
				}
			}
		case c.Name == "epoll_ctl" && strings.Contains(c.Arg(1), "ADD"):
			ep, ok1 := c.IntArg(0)
			target, ok2 := c.IntArg(2)
			if !ok1 || !ok2 {
				break
			}
			if d, ok := eventData(c.Arg(3)); ok && isPointer(d) {
				t.runtimeEpoll[ep] = true
			}
			if _, seen := t.addedTo[target]; !seen {
				t.addedTo[target] = ep
			}
		}
	}
	return t
}

// open applies call number i's effect on the table, except closing: fds
// created, named and registered.
func (t *fdTable) open(i int, c Call) {
	n, ok := c.Result()
	created := ok && n >= 0
	switch c.Name {
	case "socket":
		if created {
			k, name := fdSocket, "socket"
			if t.listened[i] {
				k, name = fdListener, "listener"
			}
			t.fds[n] = fd{kind: k, name: name, reservesPort: k == fdSocket && t.reuseport[i]}
		}
	case "listen":
		if f, ok := c.IntArg(0); ok {
			t.fds[f] = fd{kind: fdListener, name: "listener"}
		}
	case "accept4", "accept":
		if created {
			t.fds[n] = fd{kind: fdConn, name: t.connName(c.Arg(1))}
		}
	case "epoll_create1", "epoll_create":
		if created {
			if t.runtimeEpoll[n] {
				t.fds[n] = fd{kind: fdNetpoll, name: "netpoll"}
			} else {
				t.fds[n] = fd{kind: fdEpoll, name: "epoll"}
			}
		}
	case "eventfd2", "eventfd":
		if created {
			t.fds[n] = fd{kind: fdEventfd, name: "eventfd", runtime: t.runtimeEpoll[t.addedTo[n]]}
		}
	case "timerfd_create":
		if created {
			t.fds[n] = fd{kind: fdTimerfd, name: "timerfd"}
		}
	case "epoll_ctl":
		ep, ok1 := c.IntArg(0)
		target, ok2 := c.IntArg(2)
		if ok1 && ok2 && (strings.Contains(c.Arg(1), "ADD") || strings.Contains(c.Arg(1), "MOD")) {
			if d, ok := eventData(c.Arg(3)); ok {
				t.data[[2]uint64{uint64(ep), d}] = target
			}
		}
	}
}

// release forgets the fd a successful close() closed.
func (t *fdTable) release(c Call) {
	if n, ok := c.Result(); c.Name == "close" && ok && n == 0 {
		if f, ok := c.IntArg(0); ok {
			delete(t.fds, f)
		}
	}
}

func (t *fdTable) get(n int64) fd {
	f, ok := t.fds[n]
	if !ok {
		f.name = "fd " + strconv.FormatInt(n, 10)
	}
	return f
}

// label is how an fd is shown: "7 conn#1".
func (t *fdTable) label(n int64) string {
	if f, ok := t.fds[n]; ok {
		return fmt.Sprintf("%d %s", n, f.name)
	}
	return strconv.FormatInt(n, 10)
}

var portRE = regexp.MustCompile(`sin6?_port=htons\((\d+)\)`)

// connName names an accepted connection by its client's port, as the
// client script named it.
func (t *fdTable) connName(addr string) string {
	if m := portRE.FindStringSubmatch(addr); m != nil {
		port, _ := strconv.Atoi(m[1])
		if name, ok := t.conns[port]; ok {
			return name
		}
		return "conn:" + m[1]
	}
	// accept4 without an address: name by order of arrival.
	t.nconn++
	if t.nconn <= len(t.connOrder) {
		return t.connOrder[t.nconn-1]
	}
	return fmt.Sprintf("conn%d", t.nconn)
}

// event is one entry of epoll_wait's result.
type event struct {
	fd     int64 // -1 when the registration was not seen
	events string
}

var eventRE = regexp.MustCompile(`events=([A-Z0-9|]+), data=\{u32=\d+, u64=(\d+)\}`)

// readyEvents decodes an epoll_wait result list.
func (t *fdTable) readyEvents(epfd int64, list string) []event {
	var out []event
	for _, m := range eventRE.FindAllStringSubmatch(list, -1) {
		d, _ := strconv.ParseUint(m[2], 10, 64)
		f, ok := t.data[[2]uint64{uint64(epfd), d}]
		if !ok {
			f = -1
		}
		out = append(out, event{fd: f, events: m[1]})
	}
	return out
}

func eventData(s string) (uint64, bool) {
	m := eventRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	d, err := strconv.ParseUint(m[2], 10, 64)
	return d, err == nil
}

var eventsRE = regexp.MustCompile(`events=([A-Z0-9|]+)`)

// eventMask is the events=... part of an epoll_event argument.
func eventMask(s string) string {
	if m := eventsRE.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

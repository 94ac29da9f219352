package journey

import (
	"fmt"
	"strings"
)

// Step is one key event of a request's path, as found in a journey.
type Step struct {
	What  string // what was looked for
	Index int    // its index in the events
}

// KeyPath finds, in time order, the key events of request n (1 or 2) of
// the two-request script: the client's write; the packet queued on the
// client's device; on lo netif_rx, on veth napi_poll on the server's end;
// the NET_RX softirq; sk_data_ready; the waking of a server thread; that
// thread's epoll wait returning; for std the runtime's netpollready; the
// server's read and write; a client thread woken; the client's read of
// the response. It fails naming the first step it cannot find after the
// one before it.
func KeyPath(r Result, n int) ([]Step, error) {
	var (
		evs      = r.Events
		at       = -1
		steps    []Step
		woken    = -1
		client   = r.clientPID()
		requests = 0
	)
	find := func(what string, pred func(Event) bool) bool {
		for i := at + 1; i < len(evs); i++ {
			if pred(evs[i]) {
				at = i
				steps = append(steps, Step{What: what, Index: i})
				return true
			}
		}
		return false
	}
	sys := func(e Event, name func(string) bool) bool { return e.Source == SourceSyscall && name(e.Name) }
	for i, e := range evs {
		if e.PID == client && sys(e, isWrite) && onConn(e) && intField(e.Args, "ret") > 0 {
			if requests++; requests == n {
				// The write's own events (the softirq inside it) come
				// before its return: search from its entry.
				enter, _ := e.Args["enter_us"].(float64)
				at = i - 1
				for at >= 0 && evs[at].TUS >= enter {
					at--
				}
				steps = append(steps, Step{What: "client write", Index: i})
			}
		}
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("request %d: the client's write is not in the journey", n)
	}
	type want struct {
		what string
		pred func(Event) bool
	}
	wants := []want{
		{"net_dev_queue", func(e Event) bool { return e.Name == "net:net_dev_queue" && e.PID == client }},
	}
	if r.Net != "veth" {
		wants = append(wants, want{"netif_rx on lo", func(e Event) bool { return e.Name == "net:netif_rx" && strField(e.Args, "dev") == "lo" }})
	}
	wants = append(wants,
		want{"NET_RX softirq", func(e Event) bool {
			return e.Name == "irq:softirq_entry" && strField(e.Args, "action") == "NET_RX"
		}},
		want{"sk_data_ready", func(e Event) bool { return e.Name == "sock:sk_data_ready" }},
		want{"sched_waking of a server thread", func(e Event) bool {
			if e.Name == "sched:sched_waking" && r.serverTID(int(intField(e.Args, "pid"))) {
				woken = int(intField(e.Args, "pid"))
				return true
			}
			return false
		}},
		want{"that thread's epoll wait returning", func(e Event) bool { return e.TID == woken && sys(e, isWait) }},
	)
	if r.Model == "std" {
		wants = append(wants, want{"runtime.netpollready", func(e Event) bool {
			return e.Source == SourceUprobe && e.Name == "runtime.netpollready"
		}})
	}
	wants = append(wants,
		want{"server read", func(e Event) bool {
			return e.PID != client && sys(e, isRead) && onConn(e) && intField(e.Args, "ret") > 0
		}},
	)
	for _, w := range wants {
		if !find(w.what, w.pred) {
			return steps, fmt.Errorf("%s request %d: no %s after %s", r.Model, n, w.what, steps[len(steps)-1].What)
		}
	}
	// The client is woken from the softirq inside the server's write,
	// before the write returns: both are looked for after the read.
	read := at
	if !find("server write", func(e Event) bool {
		return e.PID != client && sys(e, isWrite) && onConn(e) && intField(e.Args, "ret") > 0
	}) {
		return steps, fmt.Errorf("%s request %d: no server write after its read", r.Model, n)
	}
	written := at
	at = read
	if !find("a client thread woken", func(e Event) bool {
		return e.Name == "sched:sched_waking" && r.clientTID(int(intField(e.Args, "pid")))
	}) {
		return steps, fmt.Errorf("%s request %d: no client thread woken after the server's read", r.Model, n)
	}
	// The client's read may return before the server's write does: the
	// woken client runs on the other CPU while the write finishes.
	writeEnter, _ := evs[written].Args["enter_us"].(float64)
	if !find("client read of the response", func(e Event) bool {
		return e.PID == client && sys(e, isRead) && onConn(e) && intField(e.Args, "ret") > 0 && e.TUS > writeEnter
	}) {
		return steps, fmt.Errorf("%s request %d: no client read of the response after the client was woken", r.Model, n)
	}
	if r.Net == "veth" {
		// napi_poll's tracepoint fires when a poll ends, after the
		// packets it delivered: it comes within the softirq, not before.
		queued, returned := steps[1].Index, steps[6].Index
		for i := queued; i < returned; i++ {
			if e := evs[i]; e.Name == "napi:napi_poll" && strings.HasPrefix(strField(e.Args, "dev"), "rdn") {
				return steps, nil
			}
		}
		return steps, fmt.Errorf("%s request %d: no napi_poll on a veth device between the packet queued and the wait's return", r.Model, n)
	}
	return steps, nil
}

func (r Result) clientPID() int {
	for _, e := range r.Events {
		if e.Role == RoleClient {
			return e.PID
		}
	}
	return -1
}

// serverTID reports a thread of the server: the process whose system
// calls were recorded besides the client's.
func (r Result) serverTID(tid int) bool {
	server := -1
	for _, e := range r.Events {
		if e.Source != SourceTracepoint && e.Role != RoleClient {
			server = e.PID
			break
		}
	}
	for _, e := range r.Events {
		if e.TID == tid && e.PID == server {
			return true
		}
	}
	return false
}

func (r Result) clientTID(tid int) bool {
	for _, e := range r.Events {
		if e.TID == tid && e.Role == RoleClient {
			return true
		}
	}
	return false
}

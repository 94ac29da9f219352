package journey

import "sort"

// Herd is what a burst of connections did to the server's loops: who
// accepted, who was woken, and how many wake-ups found nothing.
type Herd struct {
	Conns      int        `json:"conns"`    // connections the client made
	Accepted   int        `json:"accepted"` // accept4 calls that returned a connection
	Loops      []LoopHerd `json:"loops"`    // per loop thread, in order of tid
	WakesPer   float64    `json:"epoll_returns_per_accept"`
	AcceptsPer float64    `json:"accept_calls_per_accept"` // accept4 calls (got one or EAGAIN) per connection accepted
	EmptyWakes int        `json:"empty_wakes"`             // epoll returns of 0 plus accept4 EAGAIN
	Absorbed   int        `json:"absorbed_wakes"`          // scheduler wake-ups with no epoll return after them
}

// LoopHerd is one loop thread's share of the burst.
type LoopHerd struct {
	TID          int `json:"tid"`
	Accepts      int `json:"accepts"`
	AcceptEAGAIN int `json:"accept_eagain"`
	Returns      int `json:"epoll_returns"`       // epoll waits that returned
	EmptyReturns int `json:"epoll_empty_returns"` // of those, with 0 events
	Wakeups      int `json:"wakeups"`             // sched_waking of the thread
	// Absorbed counts wake-ups after which the thread went back to sleep
	// without its epoll wait returning: ep_poll found its ready list
	// empty (another waiter took the event) and slept again in the kernel.
	Absorbed int `json:"absorbed"`
}

// herd counts, per thread that waits in epoll, its accepts and wake-ups.
func (tl *Timeline) herd() *Herd {
	h := &Herd{Conns: len(tl.Meta.ClientPorts)}
	per := map[int]*LoopHerd{}
	get := func(tid int) *LoopHerd {
		l := per[tid]
		if l == nil {
			l = &LoopHerd{TID: tid}
			per[tid] = l
		}
		return l
	}
	// awake: a thread woken whose epoll wait has not returned since.
	awake := map[int]bool{}
	for _, e := range tl.Events {
		switch {
		case e.Source == SourceTracepoint && e.Name == "sched:sched_waking":
			tid := int(intField(e.Args, "pid"))
			if tl.pids[tid] == tl.Meta.ServerPID && tl.Roles[tid] == RoleLoop {
				get(tid).Wakeups++
				awake[tid] = true
			}
		case e.Source == SourceTracepoint && e.Name == "sched:sched_switch":
			tid := int(intField(e.Args, "prev_pid"))
			if awake[tid] && strField(e.Args, "prev_state") == "S" && tl.Roles[tid] == RoleLoop {
				// Asleep again with no return from epoll in between.
				get(tid).Absorbed++
				awake[tid] = false
			}
		case e.PID != tl.Meta.ServerPID || e.Source != SourceSyscall || tl.Roles[e.TID] != RoleLoop:
		case e.Name == "epoll_wait" || e.Name == "epoll_pwait" || e.Name == "epoll_pwait2":
			l := get(e.TID)
			l.Returns++
			if intField(e.Args, "ret") == 0 {
				l.EmptyReturns++
			}
			awake[e.TID] = false
		case e.Name == "accept4" || e.Name == "accept":
			l := get(e.TID)
			if intField(e.Args, "ret") >= 0 {
				l.Accepts++
			} else if strField(e.Args, "errno") == "EAGAIN" {
				l.AcceptEAGAIN++
			}
		case e.Source == SourceSyscall && e.Name == "futex":
			// A loop sleeping on a futex (a lock, the runtime) is not
			// in epoll: its wake-up is not an epoll one.
			awake[e.TID] = false
		}
	}
	calls, returns := 0, 0
	for _, l := range per {
		h.Loops = append(h.Loops, *l)
		h.Accepted += l.Accepts
		calls += l.Accepts + l.AcceptEAGAIN
		returns += l.Returns
		h.EmptyWakes += l.EmptyReturns + l.AcceptEAGAIN
		h.Absorbed += l.Absorbed
	}
	sort.Slice(h.Loops, func(i, j int) bool { return h.Loops[i].TID < h.Loops[j].TID })
	if h.Accepted > 0 {
		h.WakesPer = float64(returns) / float64(h.Accepted)
		h.AcceptsPer = float64(calls) / float64(h.Accepted)
	}
	return h
}

package journey

import "sort"

// Herd is what a burst of connections did to the server's loops: who
// accepted, who was woken, and how many wake-ups found nothing.
type Herd struct {
	Conns    int        `json:"conns"`    // connections the client made
	Accepted int        `json:"accepted"` // accept4 calls that returned a connection
	Loops    []LoopHerd `json:"loops"`    // per loop thread, in order of tid
	// Per connection accepted: wake-ups of loop threads (sched_waking),
	// blocking epoll waits returning, and accept4 calls (one or EAGAIN).
	WakeupsPer float64 `json:"wakeups_per_accept"`
	ReturnsPer float64 `json:"epoll_returns_per_accept"`
	AcceptsPer float64 `json:"accept_calls_per_accept"`
	// EmptyWakes counts wakes that found nothing: a blocking wait
	// returning 0, or a return whose accepts all got EAGAIN.
	EmptyWakes int `json:"empty_wakes"`
	Absorbed   int `json:"absorbed_wakes"` // wake-ups with no epoll return before the thread slept again
}

// LoopHerd is one loop thread's share of the burst.
type LoopHerd struct {
	TID          int `json:"tid"`
	Accepts      int `json:"accepts"`
	AcceptEAGAIN int `json:"accept_eagain"`
	Returns      int `json:"epoll_returns"`       // blocking epoll waits that returned (polls with timeout 0 left out)
	EmptyReturns int `json:"epoll_empty_returns"` // of those, with 0 events
	// EmptyAccepts counts returns after which accept4 got only EAGAIN:
	// another loop had taken the connection.
	EmptyAccepts int `json:"empty_accepts"`
	Wakeups      int `json:"wakeups"` // sched_waking of the thread
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
	// sleeps: per loop thread, when it went to sleep (sched_switch out in
	// state S), to count the sleeps inside each epoll wait.
	sleeps := map[int][]int64{}
	for _, e := range tl.Events {
		if e.Name == "sched:sched_switch" && strField(e.Args, "prev_state") == "S" {
			tid := int(intField(e.Args, "prev_pid"))
			if tl.Roles[tid] == RoleLoop {
				sleeps[tid] = append(sleeps[tid], e.ns)
			}
		}
	}
	// got: per thread, whether accept4 succeeded since its last return;
	// tried: whether it got EAGAIN since then.
	got, tried := map[int]bool{}, map[int]bool{}
	settle := func(tid int) {
		if tried[tid] && !got[tid] {
			get(tid).EmptyAccepts++
		}
		got[tid], tried[tid] = false, false
	}
	for _, e := range tl.Events {
		switch {
		case e.Source == SourceTracepoint && e.Name == "sched:sched_waking":
			tid := int(intField(e.Args, "pid"))
			if tl.pids[tid] == tl.Meta.ServerPID && tl.Roles[tid] == RoleLoop {
				get(tid).Wakeups++
			}
		case e.PID != tl.Meta.ServerPID || e.Source != SourceSyscall || tl.Roles[e.TID] != RoleLoop:
		case e.Name == "epoll_wait" || e.Name == "epoll_pwait" || e.Name == "epoll_pwait2":
			settle(e.TID)
			if t, ok := e.Args["timeout_ms"].(int64); ok && t == 0 {
				break // a poll that could not block: no wake-up
			}
			l := get(e.TID)
			l.Returns++
			if intField(e.Args, "ret") == 0 {
				l.EmptyReturns++
			}
			// One sleep ends in this return; each other sleep inside the
			// same wait was a wake-up ep_poll absorbed.
			if n := countBetween(sleeps[e.TID], e.enterNS, e.ns); n > 1 {
				l.Absorbed += n - 1
			}
		case e.Name == "accept4" || e.Name == "accept":
			l := get(e.TID)
			if intField(e.Args, "ret") >= 0 {
				l.Accepts++
				got[e.TID] = true
			} else if strField(e.Args, "errno") == "EAGAIN" {
				l.AcceptEAGAIN++
				tried[e.TID] = true
			}
		}
	}
	for tid := range per {
		settle(tid)
	}
	calls, returns, wakeups := 0, 0, 0
	for _, l := range per {
		h.Loops = append(h.Loops, *l)
		h.Accepted += l.Accepts
		calls += l.Accepts + l.AcceptEAGAIN
		returns += l.Returns
		wakeups += l.Wakeups
		h.EmptyWakes += l.EmptyReturns + l.EmptyAccepts
		h.Absorbed += l.Absorbed
	}
	sort.Slice(h.Loops, func(i, j int) bool { return h.Loops[i].TID < h.Loops[j].TID })
	if h.Accepted > 0 {
		h.ReturnsPer = float64(returns) / float64(h.Accepted)
		h.WakeupsPer = float64(wakeups) / float64(h.Accepted)
		h.AcceptsPer = float64(calls) / float64(h.Accepted)
	}
	return h
}

// countBetween counts the times in (from, to); from 0 means the start.
func countBetween(times []int64, from, to int64) int {
	n := 0
	for _, t := range times {
		if t > from && t < to {
			n++
		}
	}
	return n
}

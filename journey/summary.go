package journey

import "fmt"

// Summary is a journey's figures.
type Summary struct {
	Requests []Path `json:"requests,omitempty"` // the two-request script
	Herd     *Herd  `json:"herd,omitempty"`     // a -conns burst
}

// Path is one request's critical path, each part in µs; a part that could
// not be found in the capture is null.
type Path struct {
	Request int `json:"request"`
	// ClientSendUS: the client's write entering the kernel until its
	// first packet is queued on the device.
	ClientSendUS *float64 `json:"client_send_us"`
	// ReceiveUS: from there until a server thread is woken (netif_rx,
	// the NET_RX softirq, TCP receive, sk_data_ready, the wait queue).
	ReceiveUS *float64 `json:"softirq_receive_us"`
	// WakeUS: sched_waking until the woken thread runs (sched_switch).
	WakeUS *float64 `json:"wakeup_us"`
	// ServerUS: from then until the server's response write enters the
	// kernel; ServerKernelUS of it in system calls, the rest in user space.
	ServerUS       *float64 `json:"server_us"`
	ServerKernelUS *float64 `json:"server_kernel_us"`
	ServerUserUS   *float64 `json:"server_user_us"`
	// BackUS: the response write until the client's read returns it.
	BackUS  *float64 `json:"back_us"`
	TotalUS *float64 `json:"total_us"`
	Woken   []Wake   `json:"woken"` // the wake-ups of the server's and client's threads during it
	Note    string   `json:"note,omitempty"`
}

// Wake is one thread woken during a request.
type Wake struct {
	AtUS      float64 `json:"t_us"`
	TID       int     `json:"tid"`
	Role      string  `json:"role"`
	By        string  `json:"by"` // the task running when it was woken
	InSoftirq bool    `json:"in_softirq"`
}

func ptr(ns int64) *float64 { v := us(ns); return &v }

// Summarize computes the critical path of each request of the script, or
// the herd's counts for a burst.
func (tl *Timeline) Summarize() Summary {
	if tl.Meta.Conns > 0 {
		return Summary{Herd: tl.herd()}
	}
	var out Summary
	evs := tl.Events
	n := 0
	for i, e := range evs {
		if e.PID == tl.Meta.ClientPID && e.Source == SourceSyscall && isWrite(e.Name) &&
			onConn(e) && intField(e.Args, "ret") > 0 && e.enterNS != 0 {
			n++
			out.Requests = append(out.Requests, tl.path(n, i))
		}
	}
	return out
}

// path follows request n, whose write returned at evs[w].
func (tl *Timeline) path(n, w int) Path {
	evs := tl.Events
	write := evs[w]
	p := Path{Request: n}
	start := write.enterNS
	fd := intField(write.Args, "fd")
	server := func(e Event) bool { return e.PID == tl.Meta.ServerPID }
	// The response: the client's next read on fd returning bytes.
	end := -1
	for i := w + 1; i < len(evs); i++ {
		e := evs[i]
		if e.PID == tl.Meta.ClientPID && e.Source == SourceSyscall && isRead(e.Name) &&
			intField(e.Args, "fd") == fd && intField(e.Args, "ret") > 0 {
			end = i
			break
		}
	}
	if end < 0 {
		p.Note = "the client's read of the response was not recorded"
		return p
	}
	p.TotalUS = ptr(evs[end].ns - start)
	at := func(pred func(Event) bool, from int64) (int64, int) {
		for i, e := range evs {
			if e.ns >= from && e.ns <= evs[end].ns && pred(e) {
				return e.ns, i
			}
		}
		return 0, -1
	}
	queued, _ := at(func(e Event) bool {
		return e.Name == "net:net_dev_queue" && e.PID == tl.Meta.ClientPID
	}, start)
	if queued != 0 {
		p.ClientSendUS = ptr(queued - start)
	}
	respond, _ := at(func(e Event) bool {
		return server(e) && e.Source == SourceSyscall && isWrite(e.Name) && e.enterNS >= start
	}, start)
	respondEnter, responder := int64(0), 0
	for _, e := range evs {
		if server(e) && e.Source == SourceSyscall && isWrite(e.Name) && e.ns == respond {
			respondEnter, responder = e.enterNS, e.TID
			break
		}
	}
	serverWaking := func(e Event) bool {
		return e.Name == "sched:sched_waking" && tl.pids[int(intField(e.Args, "pid"))] == tl.Meta.ServerPID
	}
	// The wake-up the request caused comes from the receive softirq;
	// without one, the first wake-up of a server thread.
	woke, wi := at(func(e Event) bool { return serverWaking(e) && e.softirq }, start)
	if woke == 0 {
		woke, wi = at(serverWaking, start)
	}
	if woke != 0 && (respondEnter == 0 || woke < respondEnter) {
		if queued != 0 {
			p.ReceiveUS = ptr(woke - queued)
		}
		tid := int(intField(evs[wi].Args, "pid"))
		ran, _ := at(func(e Event) bool {
			return e.Name == "sched:sched_switch" && int(intField(e.Args, "next_pid")) == tid
		}, woke)
		if ran != 0 {
			p.WakeUS = ptr(ran - woke)
			if respondEnter != 0 && respondEnter < ran {
				p.Note = "the response was written by a thread already running before the woken one ran"
			} else if respondEnter != 0 {
				p.ServerUS = ptr(respondEnter - ran)
				k := tl.kernelTime(responder, ran, respondEnter)
				p.ServerKernelUS = ptr(k)
				p.ServerUserUS = ptr(respondEnter - ran - k)
			}
		}
	} else {
		p.Note = "no server thread was woken before the response: one was already running"
	}
	if respondEnter != 0 {
		p.BackUS = ptr(evs[end].ns - respondEnter)
	}
	for _, e := range evs[w:end] {
		if e.Name != "sched:sched_waking" {
			continue
		}
		tid := int(intField(e.Args, "pid"))
		p.Woken = append(p.Woken, Wake{AtUS: e.TUS, TID: tid, Role: tl.role(tl.pids[tid], tid),
			By: tl.waker(&e), InSoftirq: e.softirq})
	}
	return p
}

// kernelTime is the time thread tid spent in system calls between from
// and to, clipped to it.
func (tl *Timeline) kernelTime(tid int, from, to int64) int64 {
	var sum int64
	for _, e := range tl.Events {
		if e.TID != tid || e.Source != SourceSyscall || e.enterNS == 0 {
			continue
		}
		a, b := max(e.enterNS, from), min(e.ns, to)
		if b > a {
			sum += b - a
		}
	}
	return sum
}

// String renders a part of a path.
func fmtUS(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *v)
}

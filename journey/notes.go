package journey

import (
	"fmt"
	"strings"
)

// writeNotes gives each event its one-line meaning. What a tracepoint or
// uprobe shows is said plainly; what is deduced from its neighbours says
// "inferred".
func writeNotes(tl *Timeline) {
	inSoftirq := map[int]bool{} // cpu -> inside NET_RX
	var probeNote = map[string]string{}
	for _, p := range Probes {
		probeNote[p.Func] = p.Note
	}
	requests := 0
	for i := range tl.Events {
		e := &tl.Events[i]
		switch e.Source {
		case SourceUprobe:
			e.Note = probeNote[e.Name]
			if e.Name == "runtime.netpoll" {
				e.Note += netpollDelay(intField(e.Args, "delay"))
			}
		case SourceSyscall:
			if e.PID == tl.Meta.ClientPID && isWrite(e.Name) && onConn(*e) && intField(e.Args, "ret") > 0 {
				requests++
			}
			e.Note = tl.syscallNote(e, requests)
		case SourceTracepoint:
			switch e.Name {
			case "irq:softirq_entry":
				if strField(e.Args, "action") == "NET_RX" {
					inSoftirq[e.CPU] = true
				}
			case "irq:softirq_exit":
				if strField(e.Args, "action") == "NET_RX" {
					inSoftirq[e.CPU] = false
				}
			}
			e.softirq = inSoftirq[e.CPU]
			e.Note = tl.tracepointNote(e, e.softirq)
		}
	}
}

func netpollDelay(d int64) string {
	switch {
	case d == 0:
		return " without blocking (delay 0)"
	case d < 0:
		return " and may block until a socket is ready (delay -1)"
	}
	return fmt.Sprintf(" and may block up to %d µs (the next timer)", d/1000)
}

func (tl *Timeline) who(tid int) string {
	if tl.pids[tid] == tl.Meta.ClientPID {
		return fmt.Sprintf("client thread %d", tid)
	}
	return fmt.Sprintf("%s thread %d", tl.role(tl.pids[tid], tid), tid)
}

func (tl *Timeline) syscallNote(e *Event, requests int) string {
	ret := intField(e.Args, "ret")
	errno := strField(e.Args, "errno")
	client := e.PID == tl.Meta.ClientPID
	switch {
	case client && e.Name == "connect":
		return "the client's connect: the SYN goes out and the handshake completes in softirqs"
	case client && isWrite(e.Name) && ret > 0 && onConn(*e):
		return fmt.Sprintf("the client's request %d (%d bytes): loopback or veth transmit and the receive softirq ran inside this call", requests, ret)
	case client && isRead(e.Name) && ret > 0 && onConn(*e):
		return fmt.Sprintf("the client has the response (%d bytes)", ret)
	case client && isRead(e.Name) && errno == "EAGAIN":
		return "the client's read finds nothing yet: its goroutine parks until the response wakes it"
	case client && e.Name == "close" && onConn(*e):
		return "the client closes the connection (FIN)"
	case client && isRead(e.Name) && intField(e.Args, "fd") == 0:
		return "the client reads its go-ahead on stdin: the script starts"
	case client && isWrite(e.Name) && intField(e.Args, "fd") == 1:
		return "the client reports its result on stdout: the script is over"
	case (isRead(e.Name) || isWrite(e.Name)) && !onConn(*e):
		if ret == 8 {
			return "8 bytes on an fd that is not a connection: an eventfd, one thread waking another's epoll wait"
		}
		return "not on a connection of the script"
	case e.Name == "epoll_wait" || e.Name == "epoll_pwait" || e.Name == "epoll_pwait2":
		if ret == 0 {
			return "the wait returns with nothing ready (timeout or a spurious wake-up)"
		}
		if ret > 0 {
			return fmt.Sprintf("the wait returns %d ready fd(s): ep_send_events re-polled each ready item and copied its current mask", ret)
		}
		return "the wait is interrupted (" + errno + ")"
	case e.Name == "accept4" || e.Name == "accept":
		if errno == "EAGAIN" {
			return "the accept queue is empty: another waiter took the connection, or it was drained (EAGAIN)"
		}
		if ret >= 0 {
			return fmt.Sprintf("the connection is taken from the listener's accept queue as fd %d", ret)
		}
	case isRead(e.Name):
		switch {
		case ret > 0:
			return fmt.Sprintf("the server reads %d bytes from the socket's receive queue", ret)
		case ret == 0:
			return "end of file: the peer closed"
		case errno == "EAGAIN":
			return "nothing to read yet (EAGAIN): the fd waits for readiness"
		}
	case isWrite(e.Name) && !client && ret > 0:
		return fmt.Sprintf("the server writes the response (%d bytes): the way back starts", ret)
	case e.Name == "futex":
		op := strField(e.Args, "op")
		if strings.Contains(op, "WAKE") {
			return fmt.Sprintf("wakes %d thread(s) sleeping on a futex", ret)
		}
		return "a thread sleeps on a futex (an M parked in notesleep, or a lock)"
	case e.Name == "nanosleep" || e.Name == "clock_nanosleep":
		return "a short sleep (sysmon's usleep, or a spinning M backing off)"
	case e.Name == "close":
		return "the fd is closed"
	}
	if errno != "" {
		return "returns " + errno
	}
	return ""
}

func (tl *Timeline) tracepointNote(e *Event, softirq bool) string {
	where := fmt.Sprintf("on CPU %d", e.CPU)
	if e.PID == tl.Meta.ClientPID || e.PID == tl.Meta.ServerPID {
		where = fmt.Sprintf("on CPU %d inside %s's system call", e.CPU, tl.who(e.TID))
	}
	switch e.Name {
	case "net:net_dev_queue":
		return fmt.Sprintf("a %d-byte packet is queued for transmit on %s", intField(e.Args, "len"), strField(e.Args, "dev"))
	case "net:netif_rx":
		return fmt.Sprintf("%s hands the packet to the receive side: queued on this CPU's backlog, NET_RX raised", strField(e.Args, "dev"))
	case "net:netif_receive_skb":
		return fmt.Sprintf("the packet from %s enters IP and TCP receive", strField(e.Args, "dev"))
	case "napi:napi_poll":
		return fmt.Sprintf("NAPI polls %s (%d of %d budget): the NIC-like receive path", strField(e.Args, "dev"), intField(e.Args, "work"), intField(e.Args, "budget"))
	case "irq:softirq_entry":
		if strField(e.Args, "action") == "NET_RX" {
			return "the NET_RX softirq starts " + where + ": no interrupt (it runs where the sender re-enables softirqs: inferred from the source)"
		}
		return strField(e.Args, "action") + " softirq starts " + where
	case "irq:softirq_exit":
		return strField(e.Args, "action") + " softirq ends"
	case "sock:sk_data_ready":
		return fmt.Sprintf("data (or a connection) is queued on a socket and %s runs its wait queue; ep_poll_callback puts the epitem on the ready list (inferred: no kprobes)", strField(e.Args, "func"))
	case "sock:inet_sock_set_state":
		return fmt.Sprintf("TCP port %d -> %d: %s -> %s", intField(e.Args, "sport"), intField(e.Args, "dport"),
			strings.TrimPrefix(strField(e.Args, "oldstate"), "TCP_"), strings.TrimPrefix(strField(e.Args, "newstate"), "TCP_"))
	case "sched:sched_waking":
		s := fmt.Sprintf("%s wakes %s", tl.waker(e), tl.who(int(intField(e.Args, "pid"))))
		if softirq {
			s += " from the NET_RX softirq"
		}
		return s
	case "sched:sched_switch":
		next := int(intField(e.Args, "next_pid"))
		prev := int(intField(e.Args, "prev_pid"))
		if tl.ourTID(next) {
			return fmt.Sprintf("%s runs on CPU %d", tl.who(next), e.CPU)
		}
		state := strField(e.Args, "prev_state")
		if state == "S" {
			return fmt.Sprintf("%s goes to sleep", tl.who(prev))
		}
		return fmt.Sprintf("%s is preempted (%s)", tl.who(prev), state)
	}
	return ""
}

// waker names the task running when a wake-up happened.
func (tl *Timeline) waker(e *Event) string {
	if e.PID == tl.Meta.ClientPID || e.PID == tl.Meta.ServerPID {
		return tl.who(e.TID)
	}
	if e.PID == 0 {
		return "the idle task (an interrupt)"
	}
	return e.comm
}

func (tl *Timeline) ourTID(tid int) bool {
	_, ok := tl.pids[tid]
	return ok
}

package journey

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Event is one line of a journey, in the contract's shape.
type Event struct {
	TUS    float64        `json:"t_us"` // since the client's first request write entered the kernel
	CPU    int            `json:"cpu"`
	PID    int            `json:"pid"`
	TID    int            `json:"tid"`
	Role   string         `json:"role"`
	Source string         `json:"source"` // "syscall", "tracepoint" or "uprobe"
	Name   string         `json:"name"`
	Args   map[string]any `json:"args"`
	Note   string         `json:"note"`

	ns      int64  // when it happened (a syscall: when it returned), CLOCK_MONOTONIC
	enterNS int64  // a syscall's entry; 0 when it was entered before the capture
	comm    string // the task's name
	softirq bool   // happened inside a NET_RX softirq on its CPU
}

// Sources of events.
const (
	SourceSyscall    = "syscall"
	SourceTracepoint = "tracepoint"
	SourceUprobe     = "uprobe"
)

// Meta is what the recorder knows besides perf's samples: whose events to
// keep and how to read them. It is saved beside a capture so the timeline
// can be built again from the text (the package's tests do).
type Meta struct {
	Model       string   `json:"model"`
	Net         string   `json:"net"`
	Serve       []string `json:"serve"`
	ServerPID   int      `json:"server_pid"`
	ClientPID   int      `json:"client_pid"`
	Group       string   `json:"group"` // the uprobes' perf group
	ServerPort  int      `json:"server_port"`
	ClientPorts []int    `json:"client_ports"`
	Devs        []string `json:"devs"` // veth: the pair's devices, whose packets are kept in any task's context
	Conns       int      `json:"conns"`
}

// Timeline is one model's journey.
type Timeline struct {
	Meta    Meta
	Events  []Event
	Roles   map[int]string // tid -> role
	Missing []string
	t0      int64
	pids    map[int]int // the server's and the client's threads -> their process
}

// window margins around the client's first and last event: the server's
// handling of the final close comes after the client has exited.
const (
	windowBefore = 1_000_000  // 1 ms
	windowAfter  = 10_000_000 // 10 ms
)

// Build turns perf's samples into the timeline: system calls joined into
// one event at their return, tracepoints and uprobes kept when they concern
// the server or the client, roles inferred, notes written, times made
// relative to the client's first request write.
func Build(samples []Sample, m Meta) *Timeline {
	sort.SliceStable(samples, func(i, j int) bool { return samples[i].NS < samples[j].NS })
	tl := &Timeline{Meta: m, Roles: map[int]string{}}
	ours := func(pid int) bool { return pid == m.ServerPID || pid == m.ClientPID }
	tids := map[int]int{}
	tl.pids = tids
	first, last := int64(math.MaxInt64), int64(0)
	for _, s := range samples {
		if ours(s.PID) {
			tids[s.TID] = s.PID
			if s.PID == m.ClientPID {
				first, last = min(first, s.NS), max(last, s.NS)
			}
		}
	}
	if first > last {
		tl.Missing = append(tl.Missing, "no event of the client process was recorded")
		return tl
	}
	// The script starts when the client reads its go-ahead on stdin.
	for _, s := range samples {
		if s.PID == m.ClientPID && s.Event == "raw_syscalls:sys_exit" && s.NS >= first {
			if f := s.Fields(); intField(f, "id") == goAheadRead && intField(f, "ret") > 0 {
				first = s.NS
				break
			}
		}
	}
	from, to := first-windowBefore, last+windowAfter
	probes := probeFuncs(m.Group)
	enters := map[int]Sample{}
	var evs []Event
	for _, s := range samples {
		if s.NS < from || s.NS > to {
			continue
		}
		switch {
		case s.Event == "raw_syscalls:sys_enter":
			// Its fields are decoded with its return's, by syscallEvent.
			if ours(s.PID) {
				enters[s.TID] = s
			}
		case s.Event == "raw_syscalls:sys_exit":
			if ours(s.PID) {
				evs = append(evs, syscallEvent(s, s.Fields(), enters))
			}
		case strings.HasPrefix(s.Event, m.Group+":"):
			f := s.Fields()
			delete(f, "addr")
			evs = append(evs, Event{ns: s.NS, comm: s.Comm, CPU: s.CPU, PID: s.PID, TID: s.TID,
				Source: SourceUprobe, Name: probes[s.Event].Func, Args: f})
		default:
			if f := s.Fields(); keepTracepoint(s, f, m, ours, tids) {
				evs = append(evs, Event{ns: s.NS, comm: s.Comm, CPU: s.CPU, PID: s.PID, TID: s.TID,
					Source: SourceTracepoint, Name: s.Event, Args: f})
			}
		}
	}
	evs = dropStraySoftirqs(evs, ours)
	markConns(evs)
	tl.t0 = firstRequestWrite(evs, m.ClientPID)
	if tl.t0 == 0 {
		tl.Missing = append(tl.Missing, "the client's first request write was not recorded: times are from the client's first event")
		tl.t0 = first
	}
	for i := range evs {
		e := &evs[i]
		e.TUS = us(e.ns - tl.t0)
		if e.Source == SourceSyscall {
			if e.enterNS != 0 {
				e.Args["enter_us"] = us(e.enterNS - tl.t0)
			} else {
				e.Args["enter_us"] = nil
			}
		}
	}
	tl.Events = evs
	tl.Roles = inferRoles(evs, m)
	for i := range tl.Events {
		tl.Events[i].Role = tl.role(tl.Events[i].PID, tl.Events[i].TID)
	}
	writeNotes(tl)
	return tl
}

// Complete says whether the capture holds the whole script: every request
// the client made, its answer read, and the server's write of each.
func (tl *Timeline) Complete() error {
	want := 2
	if tl.Meta.Conns > 0 {
		want = tl.Meta.Conns
	}
	var writes, reads, responses int
	for _, e := range tl.Events {
		if e.Source != SourceSyscall || intField(e.Args, "ret") <= 0 {
			continue
		}
		switch {
		case e.PID == tl.Meta.ClientPID && isWrite(e.Name) && onConn(e):
			writes++
		case e.PID == tl.Meta.ClientPID && isRead(e.Name) && onConn(e):
			reads++
		case e.PID == tl.Meta.ServerPID && isWrite(e.Name) && onConn(e):
			responses++
		}
	}
	if writes < want || reads < want || responses < want {
		return fmt.Errorf("incomplete capture: perf recorded %d of the client's %d requests, %d of its reads of the response, %d of the server's responses", writes, want, reads, responses)
	}
	return nil
}

// us is a duration in nanoseconds as microseconds, to 0.1 µs.
func us(ns int64) float64 { return math.Round(float64(ns)/100) / 10 }

func (tl *Timeline) role(pid, tid int) string {
	if pid == tl.Meta.ClientPID {
		return RoleClient
	}
	if r, ok := tl.Roles[tid]; ok {
		return r
	}
	return RoleOther
}

// syscallEvent is a system call at its return, joined with its entry.
func syscallEvent(s Sample, f map[string]any, enters map[int]Sample) Event {
	id := intField(f, "id")
	ret := intField(f, "ret")
	name, ok := sysNames[id]
	if !ok {
		name = fmt.Sprintf("syscall_%d", id)
	}
	e := Event{ns: s.NS, comm: s.Comm, CPU: s.CPU, PID: s.PID, TID: s.TID, Source: SourceSyscall,
		Name: name, Args: map[string]any{"ret": ret}}
	if ret < 0 && ret > -4096 {
		e.Args["errno"] = unix.ErrnoName(unix.Errno(-ret))
	}
	in, ok := enters[s.TID]
	if !ok {
		return e
	}
	delete(enters, s.TID)
	ef := in.Fields()
	if intField(ef, "id") != id {
		return e
	}
	e.enterNS = in.NS
	switch name {
	case "read", "write", "readv", "writev", "close", "accept4", "accept", "connect", "sendto",
		"recvfrom", "sendmsg", "recvmsg", "shutdown", "epoll_ctl":
		e.Args["fd"] = intField(ef, "a0")
	case "epoll_wait", "epoll_pwait", "epoll_pwait2":
		e.Args["epfd"] = intField(ef, "a0")
		if name != "epoll_pwait2" {
			e.Args["timeout_ms"] = int64(int32(intField(ef, "a3")))
		}
	case "futex":
		e.Args["op"] = futexOp(intField(ef, "a1"))
	}
	return e
}

func futexOp(op int64) string {
	switch op &^ 128 { // FUTEX_PRIVATE_FLAG
	case 0:
		return "FUTEX_WAIT"
	case 1:
		return "FUTEX_WAKE"
	case 9:
		return "FUTEX_WAIT_BITSET"
	case 10:
		return "FUTEX_WAKE_BITSET"
	}
	return fmt.Sprint(op)
}

// keepTracepoint keeps a kernel event that happened in the context of the
// server or the client, that wakes or switches one of their threads, or
// that concerns the script's connections or devices.
func keepTracepoint(s Sample, f map[string]any, m Meta, ours func(int) bool, tids map[int]int) bool {
	if !strings.Contains(s.Event, ":") || s.Event == "raw_syscalls:sys_enter" {
		return false
	}
	switch s.Event {
	case "sched:sched_waking":
		_, ok := tids[int(intField(f, "pid"))]
		return ok
	case "sched:sched_switch":
		_, prev := tids[int(intField(f, "prev_pid"))]
		_, next := tids[int(intField(f, "next_pid"))]
		return prev || next
	case "sock:inet_sock_set_state":
		sp, dp := int(intField(f, "sport")), int(intField(f, "dport"))
		return sp == m.ServerPort || dp == m.ServerPort
	}
	if ours(s.PID) {
		return true
	}
	// Outside our tasks' context (ksoftirqd, the idle task, an interrupt
	// on another task): the packets of the script's devices, and the
	// softirqs around them (dropStraySoftirqs keeps only those).
	dev := strField(f, "dev")
	for _, d := range m.Devs {
		if dev == d {
			return true
		}
	}
	return s.Event == "irq:softirq_entry" || s.Event == "irq:softirq_exit" || s.Event == "sock:sk_data_ready"
}

// dropStraySoftirqs removes softirq and sk_data_ready events outside the
// server's and client's context unless they bracket a kept packet event
// on the same CPU: other programs' traffic runs softirqs too.
func dropStraySoftirqs(evs []Event, ours func(int) bool) []Event {
	keep := make([]bool, len(evs))
	open := map[int]int{} // cpu -> index of a foreign softirq_entry
	var pending = map[int][]int{}
	for i, e := range evs {
		foreign := e.Source == SourceTracepoint && !ours(e.PID)
		switch {
		case !foreign:
			keep[i] = true
		case e.Name == "irq:softirq_entry":
			open[e.CPU] = i
			pending[e.CPU] = []int{i}
		case e.Name == "irq:softirq_exit" || e.Name == "sock:sk_data_ready":
			if _, ok := open[e.CPU]; ok {
				pending[e.CPU] = append(pending[e.CPU], i)
			}
			if e.Name == "irq:softirq_exit" {
				delete(open, e.CPU)
			}
		case strings.HasPrefix(e.Name, "net:") || strings.HasPrefix(e.Name, "napi:"):
			// A packet on one of the script's devices: its softirq stays.
			keep[i] = true
			for _, j := range pending[e.CPU] {
				keep[j] = true
			}
		default: // the scheduler's events about our threads
			keep[i] = true
		}
		if e.Name == "irq:softirq_exit" && foreign && len(pending[e.CPU]) > 0 && keep[pending[e.CPU][0]] {
			keep[i] = true
		}
	}
	out := evs[:0]
	for i, e := range evs {
		if keep[i] {
			out = append(out, e)
		}
	}
	return out
}

// isWrite reports a system call that sends on a socket.
func isWrite(name string) bool {
	return name == "write" || name == "writev" || name == "sendto" || name == "sendmsg"
}

// isRead reports a system call that receives from a socket.
func isRead(name string) bool {
	return name == "read" || name == "readv" || name == "recvfrom" || name == "recvmsg"
}

// firstRequestWrite is when the client's first write on its connection
// entered the kernel.
func firstRequestWrite(evs []Event, client int) int64 {
	for _, e := range evs {
		if e.PID == client && e.Source == SourceSyscall && isWrite(e.Name) && e.enterNS != 0 && onConn(e) {
			return e.enterNS
		}
	}
	return 0
}

// markConns adds "conn": true to the system calls on a TCP connection of
// the script: an fd the client connected or the server accepted in the
// capture, until it is closed.
func markConns(evs []Event) {
	conns := map[[2]int64]bool{} // pid, fd
	for i := range evs {
		e := &evs[i]
		if e.Source != SourceSyscall {
			continue
		}
		ret := intField(e.Args, "ret")
		key := [2]int64{int64(e.PID), intField(e.Args, "fd")}
		switch {
		case e.Name == "connect" && (ret == 0 || strField(e.Args, "errno") == "EINPROGRESS"):
			conns[key] = true
		case (e.Name == "accept4" || e.Name == "accept") && ret >= 0:
			conns[[2]int64{int64(e.PID), ret}] = true
		case conns[key] && (isRead(e.Name) || isWrite(e.Name) || e.Name == "close" || e.Name == "shutdown"):
			e.Args["conn"] = true
			if e.Name == "close" {
				delete(conns, key)
			}
		}
	}
}

// onConn reports a system call on one of the script's connections.
func onConn(e Event) bool {
	c, _ := e.Args["conn"].(bool)
	return c
}

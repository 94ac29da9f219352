package journey

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Result is one model's journey in the contract's shape.
type Result struct {
	Model   string   `json:"model"`
	Net     string   `json:"net"`
	Serve   []string `json:"serve"`
	Events  []Event  `json:"events"`
	Summary Summary  `json:"summary"`
	Missing []string `json:"missing"`
}

// Result assembles the contract's record; missing adds what the recorder
// could not attach.
func (tl *Timeline) Result(missing []string) Result {
	r := Result{Model: tl.Meta.Model, Net: tl.Meta.Net, Serve: tl.Meta.Serve, Events: tl.Events,
		Summary: tl.Summarize(), Missing: append(append([]string{}, missing...), tl.Missing...)}
	if r.Serve == nil {
		r.Serve = []string{}
	}
	if r.Events == nil {
		r.Events = []Event{}
	}
	return r
}

// shown reports the events the text and Markdown timelines show: the
// JSON keeps every one. Left out: sysmon; the runtime's scheduling chatter
// (execute, futexsleep, sleeps); the client's own runtime (its futexes and
// polls) and socket options; and other tasks' scheduling, except the
// wake-ups of the server's and client's threads.
func shown(e Event) bool {
	if e.Role == RoleSysmon {
		return false
	}
	switch e.Name {
	case "runtime.execute", "runtime.futexsleep", "nanosleep", "clock_nanosleep", "sched_yield",
		"rt_sigreturn", "getpid", "tgkill", "madvise", "mmap", "munmap":
		return false
	}
	if e.Role == RoleClient && e.Source == SourceSyscall {
		return e.Name == "connect" || onConn(e)
	}
	if e.Role == RoleOther && e.Name == "sched:sched_switch" {
		return false
	}
	return true
}

// Describe renders an event's name and its telling arguments.
func (e Event) Describe() string {
	switch e.Source {
	case SourceSyscall:
		s := fmt.Sprintf("%s", e.Name)
		if fd, ok := e.Args["fd"]; ok {
			s += fmt.Sprintf("(%v)", fd)
		} else if ep, ok := e.Args["epfd"]; ok {
			s += fmt.Sprintf("(%v, timeout %v)", ep, e.Args["timeout_ms"])
		} else if op, ok := e.Args["op"]; ok {
			s += fmt.Sprintf("(%v)", op)
		}
		s += fmt.Sprintf(" = %v", e.Args["ret"])
		if errno, ok := e.Args["errno"]; ok {
			s += fmt.Sprintf(" %v", errno)
		}
		return s
	case SourceUprobe:
		if d, ok := e.Args["delay"]; ok {
			return fmt.Sprintf("%s(delay %v)", e.Name, d)
		}
		return e.Name
	}
	var keys []string
	for _, k := range []string{"dev", "len", "action", "func", "comm", "pid", "next_comm", "next_pid", "prev_state", "work", "oldstate", "newstate"} {
		if v, ok := e.Args[k]; ok {
			keys = append(keys, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return e.Name + " " + strings.Join(keys, " ")
}

// WriteText prints the timeline and the summary.
func (r Result) WriteText(w io.Writer) {
	if r.Summary.Herd == nil {
		fmt.Fprintf(w, "%9s %4s %8s %-9s %-58s %s\n", "t µs", "cpu", "tid", "role", "event", "note")
		for _, e := range r.Events {
			if shown(e) {
				fmt.Fprintf(w, "%9.1f %4d %8d %-9s %-58s %s\n", e.TUS, e.CPU, e.TID, e.Role, e.Describe(), e.Note)
			}
		}
		fmt.Fprintln(w)
	}
	r.writeSummary(w, false)
	if len(r.Missing) > 0 {
		fmt.Fprintln(w, "not recorded:")
		for _, m := range r.Missing {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
}

// WriteMarkdown prints the timeline as a table and the summary.
func (r Result) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## %s (net %s%s)\n\n", r.Model, r.Net, serveSuffix(r.Serve))
	if r.Summary.Herd == nil {
		fmt.Fprintln(w, "| t µs | CPU | tid | role | event | note |")
		fmt.Fprintln(w, "|---:|---:|---:|---|---|---|")
		for _, e := range r.Events {
			if shown(e) {
				fmt.Fprintf(w, "| %.1f | %d | %d | %s | `%s` | %s |\n", e.TUS, e.CPU, e.TID, e.Role,
					strings.ReplaceAll(e.Describe(), "|", "\\|"), strings.ReplaceAll(e.Note, "|", "\\|"))
			}
		}
		fmt.Fprintln(w)
	}
	r.writeSummary(w, true)
	if len(r.Missing) > 0 {
		fmt.Fprintln(w, "Not recorded:")
		fmt.Fprintln(w)
		for _, m := range r.Missing {
			fmt.Fprintf(w, "- %s\n", m)
		}
		fmt.Fprintln(w)
	}
}

func serveSuffix(serve []string) string {
	if len(serve) == 0 {
		return ""
	}
	return ", serve " + strings.Join(serve, " ")
}

func (r Result) writeSummary(w io.Writer, md bool) {
	row := func(cells ...string) {
		if md {
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
			return
		}
		for i, c := range cells {
			if i == 0 {
				fmt.Fprintf(w, "  %-10s", c)
			} else {
				fmt.Fprintf(w, " %12s", c)
			}
		}
		fmt.Fprintln(w)
	}
	if h := r.Summary.Herd; h != nil {
		fmt.Fprintf(w, "%d connections, %d accepted. Per accepted connection: %.2f loop wake-ups, %.2f epoll returns, %.2f accept4 calls. %d wakes found nothing (a blocking epoll wait returned 0, or its accept4 calls all got EAGAIN); %d wake-ups ended asleep again with no epoll return (inferred from sched events).\n\n",
			h.Conns, h.Accepted, h.WakeupsPer, h.ReturnsPer, h.AcceptsPer, h.EmptyWakes, h.Absorbed)
		row("loop tid", "accepts", "EAGAIN", "wake-ups", "epoll ret", "ret 0", "only EAGAIN", "slept again")
		if md {
			row("---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:")
		}
		for _, l := range h.Loops {
			row(fmt.Sprint(l.TID), fmt.Sprint(l.Accepts), fmt.Sprint(l.AcceptEAGAIN), fmt.Sprint(l.Wakeups),
				fmt.Sprint(l.Returns), fmt.Sprint(l.EmptyReturns), fmt.Sprint(l.EmptyAccepts), fmt.Sprint(l.Absorbed))
		}
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintln(w, "critical path (µs):")
	if md {
		fmt.Fprintln(w)
	}
	row("request", "client send", "softirq+TCP", "wake-up", "server", "(kernel)", "way back", "total")
	if md {
		row("---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:")
	}
	for _, p := range r.Summary.Requests {
		row(fmt.Sprint(p.Request), fmtUS(p.ClientSendUS), fmtUS(p.ReceiveUS), fmtUS(p.WakeUS),
			fmtUS(p.ServerUS), fmtUS(p.ServerKernelUS), fmtUS(p.BackUS), fmtUS(p.TotalUS))
	}
	fmt.Fprintln(w)
	for _, p := range r.Summary.Requests {
		by := map[string]int{}
		for _, wk := range p.Woken {
			where := ""
			if wk.InSoftirq {
				where = " in NET_RX"
			}
			by[fmt.Sprintf("%s %d by %s%s", wk.Role, wk.TID, wk.By, where)]++
		}
		var lines []string
		for k, n := range by {
			lines = append(lines, fmt.Sprintf("%s (%d)", k, n))
		}
		sort.Strings(lines)
		if md {
			fmt.Fprintf(w, "- request %d: %d wake-ups: %s", p.Request, len(p.Woken), strings.Join(lines, "; "))
		} else {
			fmt.Fprintf(w, "request %d: %d threads woken: %s", p.Request, len(p.Woken), strings.Join(lines, "; "))
		}
		if p.Note != "" {
			fmt.Fprintf(w, " (%s)", p.Note)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

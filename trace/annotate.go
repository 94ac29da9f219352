package trace

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Mark is a step of the client script, placed in the sequence by its time.
type Mark struct {
	At   time.Time
	Text string
}

// Conn names a client connection by the port of its client side, so that
// the accepted socket can be shown as "conn#1".
type Conn struct {
	Name string
	Port int
}

// Input is what the driver knows besides strace's output.
type Input struct {
	Model string
	Marks []Mark // the client's steps; the first one starts the script window
	Conns []Conn
	Stop  time.Time // when SIGTERM was sent: the window ends here
}

// Step is one line of an annotated sequence: a call, or a client step.
type Step struct {
	At     time.Duration `json:"at_ns"`            // since the start of its section
	Thread string        `json:"thread,omitempty"` // "T2"; empty for a client step
	Text   string        `json:"text"`             // the call and its result, or the client's action
	Note   string        `json:"note,omitempty"`   // one line; the part after InferredMark is deduced, not recorded
	// Inferred reports a note with a deduced part: what the runtime or the
	// kernel did between calls, which strace does not record.
	Inferred bool `json:"inferred,omitempty"`
	Client   bool `json:"client,omitempty"`
}

// Sequence is the annotated trace of one server.
type Sequence struct {
	Model   string         `json:"model"`
	Threads []Thread       `json:"threads"`
	Setup   []Step         `json:"setup"`  // from the first socket or epoll instance to the first client step
	Script  []Step         `json:"script"` // the client script, until SIGTERM
	Counts  map[string]int `json:"counts"` // calls per system call in the script window
	EAGAIN  map[string]int `json:"eagain"` // of those, how many returned EAGAIN
	Calls   int            `json:"calls"`  // calls in the script window
}

// setupCalls are the calls shown before the client starts: the server
// building its listener and its epoll instances. The runtime's start-up
// (memory, signals, threads) is left out.
var setupCalls = map[string]bool{
	"socket": true, "bind": true, "listen": true, "setsockopt": true,
	"epoll_create1": true, "epoll_ctl": true, "eventfd2": true, "timerfd_create": true,
}

// Annotate turns a parsed trace into the sequence the reader sees.
func Annotate(calls []Call, in Input) *Sequence {
	calls = append([]Call(nil), calls...)
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].At().Before(calls[j].At()) })
	seq := &Sequence{Model: in.Model, Counts: map[string]int{}, EAGAIN: map[string]int{}}
	if len(in.Marks) == 0 {
		return seq
	}
	scriptAt := in.Marks[0].At
	setupAt := scriptAt
	for _, c := range calls {
		if c.Name == "socket" || c.Name == "epoll_create1" {
			setupAt = c.Start
			break
		}
	}
	stop := in.Stop
	if stop.IsZero() {
		stop = in.Marks[len(in.Marks)-1].At.Add(time.Hour)
	}
	seq.Threads = classify(calls, newFDTable(calls, in.Conns), setupAt, stop)
	n := newNoter(in.Model, calls, newFDTable(calls, in.Conns), seq.Threads)

	marks := in.Marks
	sleeps := map[string]int{} // sysmon's sleeps not shown since the last step, per thread
	flushSleeps := func() {
		for _, t := range seq.Threads {
			if k := sleeps[t.Label]; k > 0 {
				seq.Script = append(seq.Script, Step{At: seq.lastAt(), Thread: t.Label,
					Text: fmt.Sprintf("nanosleep ×%d", k), Note: "sysmon's usleep loop, collapsed"})
			}
		}
		clear(sleeps)
	}
	for i, c := range calls {
		n.fds.open(i, c)
		end := c.At()
		for len(marks) > 0 && !marks[0].At.After(end) && marks[0].At.Before(stop) {
			flushSleeps()
			seq.Script = append(seq.Script, Step{At: marks[0].At.Sub(scriptAt), Text: marks[0].Text, Client: true})
			marks = marks[1:]
		}
		switch {
		case end.Before(setupAt):
		case end.Before(scriptAt):
			if setupCalls[c.Name] {
				seq.Setup = append(seq.Setup, n.step(i, c, setupAt))
			}
		case end.Before(stop):
			seq.Calls++
			seq.Counts[c.Name]++
			if c.Errno == "EAGAIN" {
				seq.EAGAIN[c.Name]++
			}
			if n.noise(c) {
				if n.role(c.TID) == RoleSysmon && strings.HasSuffix(c.Name, "nanosleep") {
					sleeps[n.label(c.TID)]++
				}
				break
			}
			seq.Script = append(seq.Script, n.step(i, c, scriptAt))
		}
		n.fds.release(c)
	}
	flushSleeps()
	for _, m := range marks {
		if m.At.Before(stop) {
			seq.Script = append(seq.Script, Step{At: m.At.Sub(scriptAt), Text: m.Text, Client: true})
		}
	}
	return seq
}

func (s *Sequence) lastAt() time.Duration {
	if len(s.Script) == 0 {
		return 0
	}
	return s.Script[len(s.Script)-1].At
}

package trace

import (
	"os"
	"strings"
	"testing"
)

// annotateFixture annotates a raw strace output kept in testdata with the
// client's side of the same run.
func annotateFixture(t *testing.T, model string) *Sequence {
	t.Helper()
	path := "testdata/" + model + ".strace"
	in, err := LoadInput(path + ".input.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return Annotate(calls, in)
}

// find returns the first script step after from whose text and note
// contain the given strings, and its index; -1 when there is none.
func find(steps []Step, from int, text, note string) int {
	for i := from; i < len(steps); i++ {
		if strings.Contains(steps[i].Text, text) && strings.Contains(steps[i].Note, note) {
			return i
		}
	}
	return -1
}

func TestStdStory(t *testing.T) {
	seq := annotateFixture(t, "std")
	roles := map[string]bool{}
	for _, th := range seq.Threads {
		roles[th.Role] = true
	}
	if !roles[RoleSysmon] || !(roles[RoleMPoll] || roles[RolePoller]) {
		t.Errorf("roles %v: want sysmon and a thread blocking in netpoll", roles)
	}
	setup := find(seq.Setup, 0, "epoll_create1", "netpollinit")
	if setup < 0 || find(seq.Setup, setup, "eventfd2", "netpollBreak") < 0 {
		t.Errorf("setup lacks netpollinit's epoll instance and eventfd:\n%s", dump(seq.Setup))
	}
	if find(seq.Setup, 0, "listen(", "") < 0 || find(seq.Setup, 0, "EPOLLET", "netpollopen") < 0 {
		t.Errorf("setup lacks listen and the listener's edge-triggered registration:\n%s", dump(seq.Setup))
	}
	// The story of request 2 on conn#1: the goroutine's read returns
	// EAGAIN, it parks; netpoll blocks until the socket is readable; the
	// goroutine runs again and reads.
	pause := find(seq.Script, 0, "pauses", "")
	if pause < 0 {
		t.Fatalf("no pause in the script:\n%s", dump(seq.Script))
	}
	eagain := find(seq.Script, 0, "read(", "inferred: FD.Read calls pollDesc.waitRead")
	wake := find(seq.Script, pause, "epoll_pwait", "conn#1 readable after blocking")
	again := find(seq.Script, max(wake, 0), "read(", "the parked goroutine runs again")
	if eagain < 0 || wake < 0 || again < 0 || eagain > wake {
		t.Errorf("want EAGAIN (%d), then netpoll's wake-up after the pause (%d), then the read (%d):\n%s", eagain, wake, again, dump(seq.Script))
	}
	if seq.EAGAIN["read"] == 0 || seq.Counts["read"] < 4 || seq.Counts["accept4"] < 2 || seq.Counts["epoll_pwait"] == 0 {
		t.Errorf("counts %v, EAGAIN %v", seq.Counts, seq.EAGAIN)
	}
	var text strings.Builder
	seq.WriteText(&text)
	for _, want := range []string{"sysmon", "---- client: connects conn#1", "= -1 EAGAIN", "conn#2"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q", want)
		}
	}
}

func dump(steps []Step) string {
	var b strings.Builder
	writeSteps(&b, steps)
	return b.String()
}

func TestLoopStory(t *testing.T) {
	for _, model := range []string{"epoll", "gnet"} {
		seq := annotateFixture(t, model)
		loops := 0
		for _, th := range seq.Threads {
			if th.Role == RoleLoop {
				loops++
			}
		}
		if loops == 0 {
			t.Errorf("%s: no event loop among %+v", model, seq.Threads)
		}
		if find(seq.Setup, 0, "epoll_create1", "the loop's own epoll instance") < 0 {
			t.Errorf("%s: the loop's epoll instance is not named:\n%s", model, dump(seq.Setup))
		}
		reg := find(seq.Script, 0, "epoll_ctl", "registers conn#1")
		ready := find(seq.Script, max(reg, 0), "epoll_", "reports conn#1 readable")
		read := find(seq.Script, max(ready, 0), "read(", "reads a request")
		if reg < 0 || ready < 0 || read < 0 {
			t.Errorf("%s: want conn#1 registered (%d), reported readable (%d), read (%d):\n%s", model, reg, ready, read, dump(seq.Script))
		}
		if find(seq.Script, 0, "", "level-triggered") < 0 {
			t.Errorf("%s: the registration's triggering is not explained:\n%s", model, dump(seq.Script))
		}
		if strings.Contains(dump(seq.Script), "netpollopen") || strings.Contains(dump(seq.Script), "gopark") {
			t.Errorf("%s: the loop's calls are explained as the runtime's:\n%s", model, dump(seq.Script))
		}
	}
	epoll := annotateFixture(t, "epoll")
	if find(epoll.Script, 0, "accept4", "EAGAIN: the accept queue is empty") < 0 {
		t.Errorf("epoll: accepting until EAGAIN is not shown:\n%s", dump(epoll.Script))
	}
}

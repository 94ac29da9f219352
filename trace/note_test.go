package trace

import (
	"strings"
	"testing"
)

func TestNoteText(t *testing.T) {
	for _, c := range []struct {
		nt   note
		want string
	}{
		{seen("closes conn#1"), "closes conn#1"},
		{inferred("", "part of Go's probe for IPv6 support"), "inferred: part of Go's probe for IPv6 support"},
		{inferred("EAGAIN: nothing to read yet", "the goroutine parks"), "EAGAIN: nothing to read yet; inferred: the goroutine parks"},
		{observedBy(inferred("reads a request (31 bytes)", "the parked goroutine runs again")),
			"reads a request (31 bytes); inferred: the parked goroutine runs again (readiness journey std observes it)"},
		{observedBy(seen("nothing deduced")), "nothing deduced"},
	} {
		if got := c.nt.text("std"); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.nt, got, c.want)
		}
	}
}

// labelCase is one kind of note: the first step whose text and note contain
// the given strings, and how its note must be labelled.
type labelCase struct {
	model, text, note string
	inferred, journey bool
}

func TestFixtureNotesAreLabelled(t *testing.T) {
	seqs := map[string]*Sequence{}
	for _, model := range []string{"std", "epoll", "gnet"} {
		seqs[model] = annotateFixture(t, model)
	}
	for _, c := range []labelCase{
		// What the runtime does inside, deduced from the calls.
		{"std", "epoll_create1", "netpollinit", true, false},
		{"std", "eventfd2", "netpollBreak", true, false},
		{"std", "epoll_ctl(", "netpollopen", true, false},
		{"std", "accept4(5 listener) = 8", "accepts conn#1", true, false},
		{"std", "accept4(5 listener) = -1 EAGAIN", "the accepting goroutine parks", true, false},
		{"std", "read(8 conn#1, 4096) = -1 EAGAIN", "the goroutine parks (gopark)", true, false},
		{"std", "epoll_pwait", "conn#1 readable after blocking", true, true},
		{"std", "epoll_pwait(6 netpoll, timeout 0)", "the scheduler polls", true, false},
		{"std", "read(8 conn#1", "the parked goroutine runs again", true, true},
		{"std", "futex(", "whose wait on this futex ends now", true, true},
		{"std", "futex(", "sysmon slept", true, false},
		{"std", "socket(", "never listens", true, false},
		{"std", "SO_KEEPALIVE", "keep-alive", true, false},
		{"std", "getsockname", "local address", true, false},
		{"gnet", "socket(", "never listens, given SO_REUSEPORT", true, false},
		{"epoll", "epoll_ctl(", "registers the loop's own epoll instance edge-triggered", true, false},
		{"epoll", "epoll IN]", "the loop's epoll instance readable (events wait in its set)", true, false},
		{"epoll", "epoll IN]", "the goroutine parked on it becomes runnable", true, true},
		// Restatements of what strace recorded.
		{"std", "socket(", "the listening socket", false, false},
		{"std", "listen(", "the kernel queues new connections", false, false},
		{"std", "TCP_NODELAY", "small responses", false, false},
		{"std", "write(8 conn#1", "writes the response", false, false},
		{"std", "read(8 conn#1, 4096) = 0", "EOF", false, false},
		{"std", "close(", "closes conn#", false, false},
		{"std", "epoll_ctl(", "removes conn#", false, false},
		{"std", "nanosleep ×", "sysmon's usleep loop", false, false},
		{"epoll", "epoll_create1", "the loop's own epoll instance", false, false},
		{"epoll", "epoll_ctl", "registers conn#1", false, false},
		{"epoll", "epoll_pwait", "the loop reports conn#1 readable", false, false},
		{"epoll", "accept4", "EAGAIN: the accept queue is empty", false, false},
		{"epoll", "read(", "reads a request", false, false},
		{"gnet", "eventfd2", "another thread writes it", false, false},
		{"gnet", "epoll_wait", "the loop reports", false, false},
	} {
		seq := seqs[c.model]
		st, ok := findStep(append(seq.Setup, seq.Script...), c.text, c.note)
		if !ok {
			t.Errorf("%s: no step %q with a note containing %q", c.model, c.text, c.note)
			continue
		}
		checkLabel(t, c.model, st, c.inferred, c.journey)
	}
}

// findStep returns the first step whose text and note contain the given
// strings.
func findStep(steps []Step, text, note string) (Step, bool) {
	if i := find(steps, 0, text, note); i >= 0 {
		return steps[i], true
	}
	return Step{}, false
}

func checkLabel(t *testing.T, model string, st Step, inferred, journey bool) {
	t.Helper()
	mark := strings.Contains(st.Note, InferredMark)
	pointer := strings.Contains(st.Note, "(readiness journey "+model+" observes it)")
	if st.Inferred != inferred || mark != inferred || pointer != journey {
		t.Errorf("%s: %s  %q: Inferred %v, marked %v, points to journey %v; want inferred %v, journey %v",
			model, st.Text, st.Note, st.Inferred, mark, pointer, inferred, journey)
	}
}

// internals are words that speak of the runtime's or the kernel's inner
// workings, which strace does not show: in a note they may appear only
// after the inferred mark.
var internals = []string{"goroutine", "gopark", "park", "runnable", "pollDesc", "netpollinit", "netpollopen",
	"netpollBreak", "findRunnable", "scheduler", "Go's net", "Go's accept", "idle", "nothing to run", "holds the port"}

func TestInternalsOnlyAfterTheMark(t *testing.T) {
	for _, model := range []string{"std", "epoll", "gnet"} {
		seq := annotateFixture(t, model)
		for _, st := range append(seq.Setup, seq.Script...) {
			observed, _, _ := strings.Cut(st.Note, InferredMark)
			for _, w := range internals {
				if strings.Contains(observed, w) {
					t.Errorf("%s: %s  %q: %q is said as observed", model, st.Text, st.Note, w)
				}
			}
			if st.Inferred != strings.Contains(st.Note, InferredMark) {
				t.Errorf("%s: %s  %q: Inferred is %v", model, st.Text, st.Note, st.Inferred)
			}
			if strings.Contains(st.Note, "readiness journey") && !st.Inferred {
				t.Errorf("%s: %s  %q: points to journey without an inference", model, st.Text, st.Note)
			}
			if strings.Contains(st.Note, "\n") {
				t.Errorf("%s: %s: the note takes more than one line: %q", model, st.Text, st.Note)
			}
		}
	}
}

// The wake-ups through an eventfd, a futex wake nobody is seen waiting for,
// and the calls the fixtures lack, noted one by one.
const craftedTrace = `100  1700000000.000100 epoll_create1(EPOLL_CLOEXEC) = 5 <0.000010>
100  1700000000.000200 eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) = 6 <0.000010>
100  1700000000.000300 epoll_ctl(5, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=10000000, u64=10000000}}) = 0 <0.000010>
101  1700000000.001000 write(6, "\1\0\0\0\0\0\0\0", 8) = 8 <0.000010>
200  1700000000.002000 epoll_create1(EPOLL_CLOEXEC) = 7 <0.000010>
200  1700000000.002100 eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) = 8 <0.000010>
200  1700000000.002200 epoll_ctl(7, EPOLL_CTL_ADD, 8, {events=EPOLLIN, data={u32=8, u64=8}}) = 0 <0.000010>
201  1700000000.003000 write(8, "\1\0\0\0\0\0\0\0", 8) = 8 <0.000010>
200  1700000000.013000 epoll_wait(7, [{events=EPOLLIN, data={u32=8, u64=8}}], 128, -1) = 1 <0.010000>
200  1700000000.013100 read(8, "\1\0\0\0\0\0\0\0", 8) = 8 <0.000010>
300  1700000000.014000 futex(0xabc, FUTEX_WAKE_PRIVATE, 1) = 1 <0.000010>
301  1700000000.034000 nanosleep({tv_sec=0, tv_nsec=20000000}, NULL) = 0 <0.020000>
302  1700000000.035000 getsockname(9, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, [16]) = 0 <0.000010>
302  1700000000.035100 setsockopt(9, SOL_IPV6, IPV6_V6ONLY, [1], 4) = 0 <0.000010>
`

func TestCraftedNotesAreLabelled(t *testing.T) {
	calls, err := Parse(strings.NewReader(craftedTrace))
	if err != nil {
		t.Fatal(err)
	}
	fds := newFDTable(calls, nil)
	n := newNoter("std", calls, fds, nil)
	steps := make([]Step, len(calls))
	for i, c := range calls {
		fds.open(i, c)
		steps[i] = n.step(i, c, calls[0].Start)
		fds.release(c)
	}
	for _, c := range []labelCase{
		{"std", "write(6 eventfd", "netpollBreak, which wakes the thread blocked in epoll_pwait", true, true},
		{"std", "write(8 eventfd", "wakes the loop from its epoll wait", true, true},
		{"std", "epoll_wait(7 epoll", "the loop reports its eventfd (a wake-up)", false, false},
		{"std", "read(8 eventfd", "drains the eventfd", false, false},
		{"std", "futex(0xabc, WAKE) = 1", "wakes 1 waiting thread", false, false},
		{"std", "nanosleep(", "nothing else it serves can run meanwhile", true, false},
		{"std", "getsockname(", "Go's accept", true, false},
		{"std", "setsockopt(", "Go's probe for IPv6", true, false},
	} {
		st, ok := findStep(steps, c.text, c.note)
		if !ok {
			t.Errorf("no step %q with a note containing %q:\n%s", c.text, c.note, dump(steps))
			continue
		}
		checkLabel(t, c.model, st, c.inferred, c.journey)
	}
}

package trace

import (
	"strings"
	"testing"
	"time"
)

func TestParseJoinsUnfinishedCalls(t *testing.T) {
	out := `100  1700000000.000100 epoll_pwait(7,  <unfinished ...>
101  1700000000.000200 read(6, "GET / HTTP/1.1\r\n\r\n", 4096) = 18 <0.000010>
101  1700000000.000300 --- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=1, si_uid=0} ---
100  1700000000.100100 <... epoll_pwait resumed>[{events=EPOLLIN, data={u32=1, u64=42}}], 128, -1, NULL, 0) = 1 <0.100000>
101  1700000000.100200 read(6, 0xc000120000, 4096) = -1 EAGAIN (Resource temporarily unavailable) <0.000005>
101  1700000000.100300 write(6, "a) = 3 \"quoted\" (x", 18)    = 18 <0.000007>
102  1700000000.100400 futex(0x1, FUTEX_WAIT_PRIVATE, 0, NULL <unfinished ...>
102  1700000000.200000 <... futex resumed>) = ?
102  1700000000.200100 +++ exited with 0 +++
`
	calls, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 5 {
		t.Fatalf("got %d calls, want 5: %+v", len(calls), calls)
	}
	read := calls[0]
	if read.Name != "read" || read.TID != 101 || read.Ret != "18" || len(read.Args) != 3 || read.Args[2] != "4096" {
		t.Errorf("read: %+v", read)
	}
	poll := calls[1]
	if poll.Name != "epoll_pwait" || poll.TID != 100 || poll.Ret != "1" || poll.Dur != 100*time.Millisecond {
		t.Errorf("joined epoll_pwait: %+v", poll)
	}
	if want := []string{"7", "[{events=EPOLLIN, data={u32=1, u64=42}}]", "128", "-1", "NULL", "0"}; strings.Join(poll.Args, "|") != strings.Join(want, "|") {
		t.Errorf("epoll_pwait args %q, want %q", poll.Args, want)
	}
	if got := poll.Start; got != time.Unix(1700000000, 100000) {
		t.Errorf("start %v: want the time the call was entered", got)
	}
	if timeout, ok := poll.IntArg(3); !ok || timeout != -1 {
		t.Errorf("timeout %d %v", timeout, ok)
	}
	if e := calls[2]; e.Errno != "EAGAIN" || e.Ret != "-1" {
		t.Errorf("EAGAIN read: %+v", e)
	}
	if w := calls[3]; len(w.Args) != 3 || w.Args[1] != `"a) = 3 \"quoted\" (x"` || w.Ret != "18" {
		t.Errorf("write with a tricky string: %+v", w)
	}
	if f := calls[4]; f.Name != "futex" || f.Ret != "?" {
		t.Errorf("futex cut by the exit: %+v", f)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, line := range []string{
		"abc 1700000000.1 read(3) = 1",
		"100 12:00:00 read(3) = 1",
		"100 1700000000.000001 read(3, \"x\" = 1",
	} {
		if _, err := Parse(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestWaitTimeout(t *testing.T) {
	for _, tc := range []struct {
		line    string
		d       time.Duration
		forever bool
		ok      bool
	}{
		{`100 1700000000.000001 epoll_pwait(8, [], 1024, 0, NULL, 8) = 0 <0.000004>`, 0, false, true},
		{`100 1700000000.000001 epoll_pwait(8, [], 1024, 59999, NULL, 8) = 0 <0.000004>`, 59999 * time.Millisecond, false, true},
		{`100 1700000000.000001 epoll_wait(8, [], 1024, -1) = 0 <0.000004>`, -time.Millisecond, true, true},
		{`100 1700000000.000001 epoll_pwait2(8, [], 1024, {tv_sec=0, tv_nsec=200000}, NULL, 8) = 0 <0.000250>`, 200 * time.Microsecond, false, true},
		{`100 1700000000.000001 epoll_pwait2(8, [], 1024, {tv_sec=2, tv_nsec=5}, NULL, 8) = 0 <2.000250>`, 2*time.Second + 5, false, true},
		{`100 1700000000.000001 epoll_pwait2(8, [], 1024, NULL, NULL, 8) = 0 <0.000250>`, 0, true, true},
		{`100 1700000000.000001 epoll_pwait2(8, [], 1024, 0x7ffd1234, NULL, 8) = 0 <0.000250>`, 0, false, false},
	} {
		calls, err := Parse(strings.NewReader(tc.line + "\n"))
		if err != nil || len(calls) != 1 {
			t.Fatalf("%s: %v %d calls", tc.line, err, len(calls))
		}
		d, forever, ok := calls[0].WaitTimeout()
		if d != tc.d || forever != tc.forever || ok != tc.ok {
			t.Errorf("%s: got %v %v %v, want %v %v %v", tc.line, d, forever, ok, tc.d, tc.forever, tc.ok)
		}
	}
}

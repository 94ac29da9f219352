package proc

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReadFixture(t *testing.T) {
	s, err := readAt("testdata/proc", 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{
		UserTicks: 731, SystemTicks: 259,
		// Both threads: the main thread's status alone would say 17 and 2.
		Voluntary: 17 + 90000, Involuntary: 2 + 311,
		RSS: 10248 * 1024, PeakRSS: 12288 * 1024, Threads: 5,
	}
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

func TestParseStat(t *testing.T) {
	page := uint64(os.Getpagesize())
	for _, tc := range []struct {
		name, in   string
		state      byte
		user, sys  uint64
		threads    int
		rss        uint64
		wantErrors bool
	}{
		{name: "plain", in: "1 (sh) S 0 1 1 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 1 1 3", state: 'S', user: 5, sys: 7, threads: 1, rss: 3 * page},
		{name: "name with spaces and parens", in: "9 (a) b (c)) R 0 1 1 0 -1 0 0 0 0 0 11 13 0 0 20 0 3 0 1 1 1", state: 'R', user: 11, sys: 13, threads: 3, rss: page},
		{name: "truncated", in: "9 (a) R 0 1 1", wantErrors: true},
		{name: "no rss", in: "1 (sh) S 0 1 1 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 1 1", wantErrors: true},
		{name: "no name", in: "9 a R 0 1 1 0 -1 0 0 0 0 0 11 13 0 0 20 0 3 0 1 1 1", wantErrors: true},
		{name: "not a number", in: "1 (sh) S 0 1 1 0 -1 0 0 0 0 0 x 7 0 0 20 0 1 0 1 1 1", wantErrors: true},
		{name: "rss not a number", in: "1 (sh) S 0 1 1 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 1 1 -1", wantErrors: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseStat([]byte(tc.in))
			if tc.wantErrors {
				if err == nil {
					t.Fatalf("no error for %q", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Stat{State: tc.state, UserTicks: tc.user, SystemTicks: tc.sys, Threads: tc.threads, RSS: tc.rss}
			if st != want {
				t.Errorf("got %+v, want %+v", st, want)
			}
		})
	}
}

// The one-file reading agrees with the full one on the fixture: the same
// CPU ticks and threads, and rss in pages is VmRSS.
func TestReadStatFixture(t *testing.T) {
	st, err := readStatAt("testdata/proc", 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{State: 'S', UserTicks: 731, SystemTicks: 259, Threads: 5, RSS: 2562 * uint64(os.Getpagesize())}
	if st != want {
		t.Errorf("got  %+v\nwant %+v", st, want)
	}
	if os.Getpagesize() == 4096 && st.RSS != 10248*1024 {
		t.Errorf("rss %d bytes, the fixture's VmRSS is %d", st.RSS, 10248*1024)
	}
	if _, err := readStatAt("testdata/proc", 1); err == nil {
		t.Error("no error for a process that is not there")
	}
}

func TestStatCPU(t *testing.T) {
	hz := ClockTicks()
	st := Stat{UserTicks: 3 * hz, SystemTicks: hz / 2}
	if got := st.CPU(); got != 3500*time.Millisecond {
		t.Errorf("CPU() = %v for 3.5 s of ticks at %d Hz", got, hz)
	}
}

// ReadStat of this process agrees with Read: the CPU time only grows
// between the two, the threads are those alive, and the resident set is
// VmRSS within what the process may have touched in between.
func TestReadStatSelf(t *testing.T) {
	pid := os.Getpid()
	full, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.UserTicks < full.UserTicks || st.SystemTicks < full.SystemTicks {
		t.Errorf("stat %+v went back from %+v", st, full)
	}
	if st.Threads < 1 || st.RSS == 0 {
		t.Errorf("implausible stat %+v", st)
	}
	diff := int64(st.RSS) - int64(full.RSS)
	if diff < -4<<20 || diff > 4<<20 {
		t.Errorf("rss %d bytes from stat, VmRSS %d from status", st.RSS, full.RSS)
	}
}

func TestFDs(t *testing.T) {
	before, err := FDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	after, err := FDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Errorf("%d descriptors before opening one, %d after", before, after)
	}
	if _, err := FDs(-1); err == nil {
		t.Error("no error for pid -1")
	}
}

func TestParseStatusErrors(t *testing.T) {
	for _, in := range []string{
		"Threads:\t1\nvoluntary_ctxt_switches:\t1\n",
		"Threads:\t1\nvoluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t1\n",
		"Threads:\t1\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t1\nVmRSS:\t10 MB\n",
	} {
		if _, err := ParseStatus([]byte(in)); err == nil {
			t.Errorf("no error for %q", in)
		}
	}
}

// TestReadSelf reads this test process while it burns CPU and makes one
// locked thread sleep: user time and that thread's voluntary switches must
// show up in the sample.
func TestReadSelf(t *testing.T) {
	pid := os.Getpid()
	before, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	if before.Threads < 1 || before.RSS == 0 || before.PeakRSS < before.RSS {
		t.Fatalf("implausible sample %+v", before)
	}

	// Burn at least five clock ticks of user time, bounded at 5 s of wall time.
	hz := ClockTicks()
	deadline := time.Now().Add(5 * time.Second)
	x := uint64(1)
	for {
		for range 1_000_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		s, err := Read(pid)
		if err != nil {
			t.Fatal(err)
		}
		if s.UserTicks >= before.UserTicks+5 || time.Now().After(deadline) {
			break
		}
	}
	if x == 0 {
		t.Log(x)
	}

	const sleeps = 50
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for range sleeps {
			time.Sleep(200 * time.Microsecond)
		}
		close(done)
	}()
	<-done

	after, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after.UserTicks < before.UserTicks+5 {
		t.Errorf("user ticks went from %d to %d after burning CPU (%d ticks/s)", before.UserTicks, after.UserTicks, hz)
	}
	if after.Voluntary < before.Voluntary+sleeps/2 {
		t.Errorf("voluntary switches went from %d to %d after %d sleeps", before.Voluntary, after.Voluntary, sleeps)
	}
	main, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStatus(main)
	if err != nil {
		t.Fatal(err)
	}
	if after.Voluntary < st.Voluntary {
		t.Errorf("sum over threads %d is below the main thread's own %d", after.Voluntary, st.Voluntary)
	}
}

func TestClockTicks(t *testing.T) {
	if hz := ClockTicks(); hz != 100 {
		t.Errorf("ClockTicks() = %d; every Linux port the lab runs on uses 100", hz)
	}
}

func TestTasks(t *testing.T) {
	tids, err := Tasks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tid := range tids {
		if tid == os.Getpid() {
			found = true
		}
		if _, err := TaskStatus(os.Getpid(), tid); err != nil {
			t.Errorf("task %d: %v", tid, err)
		}
	}
	if !found {
		t.Errorf("tasks %v do not include the main thread %d", tids, os.Getpid())
	}
}

func TestParseSchedstat(t *testing.T) {
	s, err := ParseSchedstat([]byte("123456789 2000 17\n"))
	if err != nil || s.Run != 123456789*time.Nanosecond || s.Wait != 2000*time.Nanosecond {
		t.Errorf("got %+v, %v; want run 123456789ns, wait 2000ns", s, err)
	}
	for _, bad := range []string{"", "12\n", "x 1 1\n", "1 y 1\n"} {
		if _, err := ParseSchedstat([]byte(bad)); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
	// This thread's own line reads, and its run time is not zero.
	s, err = TaskSched(os.Getpid(), unix.Gettid())
	if err != nil || s.Run <= 0 {
		t.Errorf("this thread's schedstat: %+v, %v", s, err)
	}
}

func TestTaskStat(t *testing.T) {
	// This thread is running while it reads its own line.
	st, err := TaskStat(os.Getpid(), unix.Gettid())
	if err != nil || st.State != 'R' {
		t.Errorf("this thread's stat: %+v, %v; want state R", st, err)
	}
}

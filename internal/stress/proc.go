package stress

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proc"
)

// The server runs in the test's own process, so the process's descriptors
// and goroutines are the server's plus the test's; a case takes its baseline
// with no client connected and compares after its clients are gone.

// fdCount is the number of open descriptors of this process.
func fdCount(t *testing.T) int {
	t.Helper()
	n, err := proc.FDs(os.Getpid())
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return n
}

// fdList names the open descriptors, for a failure message.
func fdList() string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, " %s->%s", e.Name(), target)
	}
	return b.String()
}

// usage is a snapshot of what the process holds.
type usage struct {
	fds, goroutines int
}

func (u usage) String() string {
	return fmt.Sprintf("%d fds, %d goroutines", u.fds, u.goroutines)
}

func current(t *testing.T) usage {
	return usage{fds: fdCount(t), goroutines: runtime.NumGoroutine()}
}

// baseline waits until the counts stop moving (goroutines of connections
// that just closed are still exiting) and returns them.
func baseline(t *testing.T) usage {
	t.Helper()
	prev, same := current(t), 0
	deadline := time.Now().Add(5 * time.Second)
	for same < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		u := current(t)
		if u == prev {
			same++
		} else {
			prev, same = u, 0
		}
	}
	return prev
}

// settle waits up to d for the counts to come back to base, and fails the
// test with what is still open when they do not.
func settle(t *testing.T, base usage, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		u := current(t)
		if u.fds <= base.fds && u.goroutines <= base.goroutines {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("not back to baseline after %v: %v, baseline %v\nfds:%s", d, u, base, fdList())
			if u.goroutines > base.goroutines {
				buf := make([]byte, 1<<20)
				t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuTime is the CPU time (user + system) the process has used so far. It
// needs no descriptor, so it works while descriptors are exhausted.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxIdleCPU is the share of one CPU an idle server may use while it waits.
// A loop that spins on a readable listener uses a whole CPU; this bound has a
// huge margin and detects only spinning, it does not measure performance.
const maxIdleCPU = 0.30

// assertIdle measures this process's CPU time over one second while
// nothing asks the server for work, and fails when it looks like a spinning
// loop.
func assertIdle(t *testing.T, what string) {
	t.Helper()
	idleShare(t, what, "the process", cpuTime)
}

// idleShare measures cpu, the CPU time so far of the process named who,
// over one second, and fails when it used more than maxIdleCPU of a CPU.
func idleShare(t *testing.T, what, who string, cpu func(*testing.T) time.Duration) {
	t.Helper()
	before, t0 := cpu(t), time.Now()
	time.Sleep(time.Second)
	used, wall := cpu(t)-before, time.Since(t0)
	share := float64(used) / float64(wall)
	t.Logf("%s: %s used %.1f%% of one CPU over %v", what, who, 100*share, wall.Round(time.Millisecond))
	if share > maxIdleCPU {
		t.Errorf("%s: %s used %.0f%% of one CPU while idle (over %v): the server spins", what, who, 100*share, wall.Round(time.Millisecond))
	}
}

// heapInuse is the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// setNofile sets the open-file limit of the process and restores the
// current one when the test ends.
func setNofile(t *testing.T, soft, hard uint64) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	lim := unix.Rlimit{Cur: soft, Max: hard}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit(NOFILE, %d/%d): %v", soft, hard, err)
	}
	t.Cleanup(func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restore RLIMIT_NOFILE %d/%d: %v", old.Cur, old.Max, err)
		}
	})
}

// raiseNofile raises the open-file limit of the process to at least need,
// the hard limit too when it is lower, and restores the current limit when
// the test ends. A process that may not raise its hard limit skips the test:
// the machine cannot hold what the case needs.
func raiseNofile(t *testing.T, need uint64) {
	t.Helper()
	old := nofile(t)
	if old.Cur >= need {
		return
	}
	lim := unix.Rlimit{Cur: need, Max: max(old.Max, need)}
	err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	if errors.Is(err, unix.EPERM) {
		t.Skipf("the case needs an open-file limit of %d; the hard limit is %d and this process may not raise it", need, old.Max)
	}
	if err != nil {
		t.Fatalf("setrlimit(NOFILE, %d/%d): %v", lim.Cur, lim.Max, err)
	}
	t.Logf("open-file limit raised from %d/%d to %d/%d", old.Cur, old.Max, lim.Cur, lim.Max)
	t.Cleanup(func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restore RLIMIT_NOFILE %d/%d: %v", old.Cur, old.Max, err)
		}
	})
}

// nofile is the current open-file limit.
func nofile(t *testing.T) unix.Rlimit {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	return lim
}

// sortedCounts renders a map of counts in key order, for logs.
func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

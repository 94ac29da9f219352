package testnet

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proc"
)

// The servers under test run in the test's own process, so the process's
// descriptors and goroutines are the servers' plus the test's: a test takes
// its baseline with no client connected and compares once all are gone.

// CountFDs is the number of fds this process has open.
func CountFDs(t testing.TB) int {
	t.Helper()
	n, err := proc.FDs(os.Getpid())
	if err != nil {
		t.Fatalf("count this process's fds: %v", err)
	}
	return n
}

// NoLeaks checks, when the test ends (after the Cleanups registered later,
// which shut servers down and close clients), that the fd and goroutine
// counts come back, within 5 s, to where they are now.
func NoLeaks(t testing.TB) {
	t.Helper()
	NoLeaksWithin(t, 5*time.Second)
}

// NoLeaksWithin is NoLeaks with settle as the time the counts have to come
// back. The baseline is taken once the counts hold still (goroutines of
// connections that just closed may still be exiting), so that they do not
// make it too lenient.
func NoLeaksWithin(t testing.TB, settle time.Duration) {
	t.Helper()
	fds, gs := steady(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(settle)
		for {
			f, g := CountFDs(t), runtime.NumGoroutine()
			if f <= fds && g <= gs {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak after %v: fds %d -> %d, goroutines %d -> %d\nfds:%s\n%s", settle, fds, f, gs, g, listFDs(), buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// steady returns the fd and goroutine counts once three samples 20 ms
// apart agree, or after a second.
func steady(t testing.TB) (fds, goroutines int) {
	fds, goroutines = CountFDs(t), runtime.NumGoroutine()
	deadline := time.Now().Add(time.Second)
	for same := 0; same < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		f, g := CountFDs(t), runtime.NumGoroutine()
		if f == fds && g == goroutines {
			same++
			continue
		}
		fds, goroutines, same = f, g, 0
	}
	return fds, goroutines
}

// listFDs names the open descriptors, for a failure message.
func listFDs() string {
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

// Filler holds /dev/null descriptors that use up the open-file limit, so
// that the next socket a server accepts fails with EMFILE.
type Filler struct{ fds []int }

// FillFDs opens /dev/null until open fails with EMFILE; the files are closed
// when the test ends at the latest.
func FillFDs(t testing.TB) *Filler {
	t.Helper()
	f := &Filler{}
	t.Cleanup(func() { f.Release(-1) })
	for len(f.fds) < 1<<20 {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EMFILE) {
			return f
		}
		if err != nil {
			t.Fatalf("open /dev/null: %v", err)
		}
		f.fds = append(f.fds, fd)
	}
	t.Fatal("open never failed with EMFILE")
	return nil
}

// Release closes n of the files, or all of them when n is negative.
func (f *Filler) Release(n int) {
	if n < 0 || n > len(f.fds) {
		n = len(f.fds)
	}
	for _, fd := range f.fds[len(f.fds)-n:] {
		unix.Close(fd)
	}
	f.fds = f.fds[:len(f.fds)-n]
}

// Count is how many files it holds.
func (f *Filler) Count() int { return len(f.fds) }

// Nofile is the process's open-file limit.
func Nofile(t testing.TB) unix.Rlimit {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	return lim
}

// SetNofile sets the soft open-file limit of the process, the hard one
// too where it is lower, and restores the current limit when the test
// ends. A process that may not raise its hard limit skips the test: the
// machine cannot hold what the test needs.
func SetNofile(t testing.TB, soft uint64) {
	t.Helper()
	old := Nofile(t)
	lim := unix.Rlimit{Cur: soft, Max: max(old.Max, soft)}
	err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	if errors.Is(err, unix.EPERM) {
		t.Skipf("the test needs an open-file limit of %d; the hard limit is %d and this process may not raise it", soft, old.Max)
	}
	if err != nil {
		t.Fatalf("setrlimit(NOFILE, %d/%d): %v", lim.Cur, lim.Max, err)
	}
	t.Cleanup(func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restore RLIMIT_NOFILE %d/%d: %v", old.Cur, old.Max, err)
		}
	})
}

// CPUTime is the CPU time (user + system) the process has used so far. It
// needs no descriptor, so it works while descriptors are exhausted.
func CPUTime() time.Duration {
	u, s := ProcessTimes()
	return time.Duration(u + s)
}

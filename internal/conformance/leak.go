package conformance

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// leakSettle is how long a subtest's cleanup waits for file descriptors and
// goroutines to return to their starting counts: closes and goroutine exits
// that follow a shutdown may take a moment to land.
const leakSettle = 3 * time.Second

// watchLeaks records the process's open file descriptors and goroutines now
// and, when t ends (after every cleanup registered later, such as the
// server's shutdown), fails t unless both are back to at most those counts.
func watchLeaks(t *testing.T) {
	t.Helper()
	fds0, gs0 := countFDs(t), runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(leakSettle)
		for {
			fds, gs := countFDs(t), runtime.NumGoroutine()
			if fds <= fds0 && gs <= gs0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak after shutdown: open fds %d -> %d, goroutines %d -> %d\n%s", fds0, fds, gs0, gs, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// countFDs counts the entries of /proc/self/fd.
func countFDs(t *testing.T) int {
	t.Helper()
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return len(names)
}

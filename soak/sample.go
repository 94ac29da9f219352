package soak

import (
	"fmt"
	"time"

	"github.com/readinesslab/readiness/internal/proc"
)

// reading is one look at a server process: the curve's sample plus its CPU
// time so far.
type reading struct {
	Sample
	cpu time.Duration // user + system, all threads
}

// read samples process pid: its descriptors from /proc/PID/fd, its
// resident size, threads and CPU time from /proc/PID/stat alone (the
// context switches, which need every thread's status, are not wanted).
func read(pid int, at time.Duration) (reading, error) {
	fds, err := proc.FDs(pid)
	if err != nil {
		return reading{}, fmt.Errorf("count fds of %d: %w", pid, err)
	}
	st, err := proc.ReadStat(pid)
	if err != nil {
		return reading{}, fmt.Errorf("read /proc/%d: %w", pid, err)
	}
	return reading{
		Sample: Sample{At: at, FDs: fds, RSS: int64(st.RSS), Threads: st.Threads},
		cpu:    st.CPU(),
	}, nil
}

// baseline waits (up to 5 s) until pid's descriptor count stays the same
// over four readings 100 ms apart, and returns the last reading: the
// connections of the warm-up may still be closing when it starts.
func baseline(pid int, at func() time.Duration) (reading, error) {
	prev, err := read(pid, at())
	if err != nil {
		return prev, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for same := 0; same < 4 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		r, err := read(pid, at())
		if err != nil {
			return r, err
		}
		if r.FDs == prev.FDs {
			same++
		} else {
			same = 0
		}
		prev = r
	}
	return prev, nil
}

package compare

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sched is what the scheduler counts for a process's threads, summed over
// /proc/PID/task/*/schedstat: the time they ran on a CPU and the time they
// were runnable but waited for one (run delay), both to the nanosecond.
// A thread that exits takes its counts with it, so a difference over a
// window can only undercount.
type sched struct {
	onCPU, waited time.Duration
	// span, for a difference of two readings, is the wall time from just
	// before the first to just after the second: the shares of it are
	// taken over what the readings really cover, even when the reader
	// was kept off its CPU between reading and looking at the clock.
	span time.Duration
}

func readSched(pid int) (sched, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return sched{}, err
	}
	var sum sched
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			// The thread exited between the listing and the read.
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return sched{}, fmt.Errorf("%s/%s/schedstat: %q has no run delay", dir, e.Name(), b)
		}
		run, err1 := strconv.ParseInt(f[0], 10, 64)
		wait, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return sched{}, fmt.Errorf("%s/%s/schedstat: %q is not two counts", dir, e.Name(), b)
		}
		sum.onCPU += time.Duration(run)
		sum.waited += time.Duration(wait)
	}
	return sum, nil
}

// schedClock measures one process's schedstat over a window.
type schedClock struct {
	pid    int
	before sched
	at     time.Time
	err    error
}

func (c *schedClock) begin() {
	c.at = time.Now()
	c.before, c.err = readSched(c.pid)
}

// since is what the process's threads ran and waited since begin.
func (c *schedClock) since() (sched, error) {
	if c.err != nil {
		return sched{}, c.err
	}
	after, err := readSched(c.pid)
	if err != nil {
		return sched{}, err
	}
	return sched{
		onCPU:  max(after.onCPU-c.before.onCPU, 0),
		waited: max(after.waited-c.before.waited, 0),
		span:   time.Since(c.at),
	}, nil
}

package compare

import (
	"errors"
	"io/fs"
	"time"

	"github.com/readinesslab/readiness/internal/proc"
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
	tids, err := proc.Tasks(pid)
	if err != nil {
		return sched{}, err
	}
	var sum sched
	for _, tid := range tids {
		t, err := proc.TaskSched(pid, tid)
		var unreadable *fs.PathError
		if errors.As(err, &unreadable) {
			// The thread exited between the listing and the read.
			continue
		}
		if err != nil {
			return sched{}, err
		}
		sum.onCPU += t.Run
		sum.waited += t.Wait
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

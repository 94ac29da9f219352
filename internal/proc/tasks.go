package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Tasks lists the thread ids of process pid.
func Tasks(pid int) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// TaskStatus reads /proc/PID/task/TID/status.
func TaskStatus(pid, tid int) (Status, error) {
	return parseFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(tid), "status"), ParseStatus)
}

// TaskStat reads /proc/PID/task/TID/stat, one thread's line in the form
// of the process's.
func TaskStat(pid, tid int) (Stat, error) {
	return readStatAt("/proc", pid, "task", strconv.Itoa(tid))
}

// Sched is what the scheduler counts for one thread in
// /proc/PID/task/TID/schedstat, to the nanosecond: the time it ran on a
// CPU and the time it was runnable but waited for one (run delay).
type Sched struct {
	Run, Wait time.Duration
}

// TaskSched reads /proc/PID/task/TID/schedstat.
func TaskSched(pid, tid int) (Sched, error) {
	return parseFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(tid), "schedstat"), ParseSchedstat)
}

// ParseSchedstat reads a schedstat line: run time, run delay (both ns)
// and the number of times the thread ran.
func ParseSchedstat(b []byte) (Sched, error) {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return Sched{}, fmt.Errorf("%q has no run delay", b)
	}
	run, err1 := strconv.ParseInt(f[0], 10, 64)
	wait, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Sched{}, fmt.Errorf("%q is not two counts", b)
	}
	return Sched{Run: time.Duration(run), Wait: time.Duration(wait)}, nil
}

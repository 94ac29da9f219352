package proc

import (
	"os"
	"path/filepath"
	"strconv"
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
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(tid), "status"))
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(b)
}

package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stat is what this package takes from /proc/PID/stat: a reading of one
// file, far cheaper than Read, which also walks every thread's status for
// the context switches. It suits a process sampled often.
type Stat struct {
	State                  byte   // field 3: R running, S sleeping, D disk wait, ...
	UserTicks, SystemTicks uint64 // utime and stime (fields 14 and 15), in clock ticks
	Threads                int    // num_threads (field 20)
	// RSS is the resident set in bytes: rss (field 24) in pages, times
	// the page size. It is the figure status reports as VmRSS.
	RSS uint64
}

// CPU is the process's CPU time so far, user and system, every thread.
func (s Stat) CPU() time.Duration {
	ticks := s.UserTicks + s.SystemTicks
	return time.Duration(ticks * uint64(time.Second) / ClockTicks())
}

// ReadStat reads /proc/PID/stat of process pid.
func ReadStat(pid int) (Stat, error) { return readStatAt("/proc", pid) }

// readStatAt reads pid's stat under a /proc tree rooted at root, or with
// sub ("task", TID) one of its threads'.
func readStatAt(root string, pid int, sub ...string) (Stat, error) {
	return parseFile(filepath.Join(append(append([]string{root, strconv.Itoa(pid)}, sub...), "stat")...), ParseStat)
}

// ParseStat reads the contents of /proc/PID/stat. The command name (field
// 2) is in parentheses and may itself hold spaces and parentheses, so the
// fields are counted from the last closing parenthesis.
func ParseStat(b []byte) (Stat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return Stat{}, errors.New("no command name in parentheses")
	}
	// fields[0] is field 3 (state).
	fields := strings.Fields(string(b[end+1:]))
	const first, last = 3, 24
	if len(fields) < last-first+1 {
		return Stat{}, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), last-first+1)
	}
	st := Stat{State: fields[0][0]}
	var err error
	if st.UserTicks, err = strconv.ParseUint(fields[14-first], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("utime: %w", err)
	}
	if st.SystemTicks, err = strconv.ParseUint(fields[15-first], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("stime: %w", err)
	}
	if st.Threads, err = strconv.Atoi(fields[20-first]); err != nil {
		return Stat{}, fmt.Errorf("num_threads: %w", err)
	}
	pages, err := strconv.ParseUint(fields[24-first], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("rss: %w", err)
	}
	st.RSS = pages * uint64(os.Getpagesize())
	return st, nil
}

// FDs counts the open descriptors of process pid, the entries of
// /proc/PID/fd. Listing the directory takes a descriptor of this process
// for a moment.
func FDs(pid int) (int, error) {
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

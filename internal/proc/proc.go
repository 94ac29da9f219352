// Package proc reads what a running process has used from /proc: CPU time
// split into user and system, context switches, resident memory and
// threads, open descriptors. The figures are read from outside the process,
// so they cost the process being measured nothing. Read takes everything,
// context switches of every thread included; ReadStat reads one file, for a
// process sampled often.
package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Sample is one reading of a process.
type Sample struct {
	// UserTicks and SystemTicks are utime and stime from /proc/PID/stat, in
	// clock ticks (ClockTicks per second). They cover every thread of the
	// process, including threads that have exited.
	UserTicks, SystemTicks uint64

	// Voluntary and Involuntary context switches, summed over
	// /proc/PID/task/*/status: /proc/PID/status reports the main thread's
	// own counts only. A thread that exits takes its counts with it.
	Voluntary, Involuntary uint64

	RSS     uint64 // resident set, bytes (VmRSS)
	PeakRSS uint64 // highest resident set since the process started, bytes (VmHWM)
	Threads int    // threads alive now
}

// Read samples the process pid.
func Read(pid int) (Sample, error) { return readAt("/proc", pid) }

// readAt samples pid under a /proc tree rooted at root.
func readAt(root string, pid int) (Sample, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	var s Sample
	st, err := parseFile(filepath.Join(dir, "stat"), ParseStat)
	if err != nil {
		return s, err
	}
	s.UserTicks, s.SystemTicks = st.UserTicks, st.SystemTicks

	main, err := parseFile(filepath.Join(dir, "status"), ParseStatus)
	if err != nil {
		return s, err
	}
	s.RSS, s.PeakRSS, s.Threads = main.RSS, main.PeakRSS, main.Threads

	s.Voluntary, s.Involuntary, err = switches(dir)
	return s, err
}

// switches sums the context switches of every live thread of the process
// whose /proc directory is dir.
func switches(dir string) (voluntary, involuntary uint64, err error) {
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tasks {
		st, err := parseFile(filepath.Join(dir, "task", t.Name(), "status"), ParseStatus)
		if errors.Is(err, os.ErrNotExist) {
			// The thread exited between the listing and the read.
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		voluntary += st.Voluntary
		involuntary += st.Involuntary
	}
	return voluntary, involuntary, nil
}

// parseFile reads a /proc file and parses it; a parse error names the file.
// A read error is returned as the os package gives it, so that a caller
// can tell a thread or process that has gone (os.ErrNotExist).
func parseFile[T any](path string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	b, err := os.ReadFile(path)
	if err != nil {
		return zero, err
	}
	v, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Status is what this package takes from a /proc/PID/status or
// /proc/PID/task/TID/status file.
type Status struct {
	Voluntary, Involuntary uint64 // this thread's context switches only
	RSS, PeakRSS           uint64 // bytes (VmRSS, VmHWM); zero for a kernel thread
	Threads                int
	CPUsAllowed            string // Cpus_allowed_list, e.g. "0-1,4"
}

// ParseStatus reads the contents of a status file. The context switch
// counts and Threads are required; the memory lines are absent for kernel
// threads and read as zero.
func ParseStatus(b []byte) (Status, error) {
	var st Status
	var seen int
	const (
		sawVoluntary = 1 << iota
		sawInvoluntary
		sawThreads
	)
	for line := range strings.Lines(string(b)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		var err error
		switch key {
		case "voluntary_ctxt_switches":
			st.Voluntary, err = strconv.ParseUint(value, 10, 64)
			seen |= sawVoluntary
		case "nonvoluntary_ctxt_switches":
			st.Involuntary, err = strconv.ParseUint(value, 10, 64)
			seen |= sawInvoluntary
		case "Threads":
			st.Threads, err = strconv.Atoi(value)
			seen |= sawThreads
		case "VmRSS":
			st.RSS, err = kilobytes(value)
		case "VmHWM":
			st.PeakRSS, err = kilobytes(value)
		case "Cpus_allowed_list":
			st.CPUsAllowed = value
		}
		if err != nil {
			return Status{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	if seen != sawVoluntary|sawInvoluntary|sawThreads {
		return Status{}, errors.New("missing voluntary_ctxt_switches, nonvoluntary_ctxt_switches or Threads")
	}
	return st, nil
}

// kilobytes reads a status memory value such as "10560 kB" as bytes.
func kilobytes(v string) (uint64, error) {
	n, unit, _ := strings.Cut(v, " ")
	if strings.TrimSpace(unit) != "kB" {
		return 0, fmt.Errorf("unit %q, want kB", unit)
	}
	k, err := strconv.ParseUint(n, 10, 64)
	return k * 1024, err
}

package experiment

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Status is what /proc/PID/status says about a process's memory and threads.
type Status struct {
	RSS     int64 // VmRSS, bytes
	Threads int
}

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Status{}, err
	}
	defer f.Close()
	return parseStatus(f)
}

func parseStatus(r io.Reader) (Status, error) {
	var s Status
	var haveRSS, haveThreads bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) < 2 || f[1] != "kB" {
				return s, fmt.Errorf("VmRSS %q: want N kB", v)
			}
			s.RSS, haveRSS = kb*1024, true
		case "Threads":
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return s, fmt.Errorf("Threads %q", v)
			}
			s.Threads, haveThreads = n, true
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !haveRSS || !haveThreads {
		return s, fmt.Errorf("/proc status without VmRSS or Threads")
	}
	return s, nil
}

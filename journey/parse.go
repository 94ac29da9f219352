package journey

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Sample is one line of perf script: an event recorded on a CPU in the
// context of a task.
type Sample struct {
	Comm   string
	PID    int // the task's process (thread group) id; 0 for the idle task
	TID    int
	CPU    int
	NS     int64  // CLOCK_MONOTONIC, nanoseconds (perf record -k mono, perf script --ns)
	Event  string // "sched:sched_waking", "raw_syscalls:sys_exit", "GROUP:netpoll"
	Detail string // perf's rendering of the event's fields
}

var lineRE = regexp.MustCompile(`^\s*(.*?)\s+(-?\d+)/(-?\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+([\w:.-]+):\s?(.*)$`)

// ParseScript reads perf script output in the shape scriptFields asks
// for. Lines perf adds that are not samples (warnings) are skipped; a
// sample line that does not parse is an error.
func ParseScript(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || !strings.Contains(line, "] ") {
			continue
		}
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("perf script line %d: not COMM PID/TID [CPU] TIME: EVENT: DETAILS: %q", n, line)
		}
		pid, _ := strconv.Atoi(m[2])
		tid, _ := strconv.Atoi(m[3])
		cpu, _ := strconv.Atoi(m[4])
		sec, _ := strconv.ParseInt(m[5], 10, 64)
		nsec, _ := strconv.ParseInt(m[6], 10, 64)
		out = append(out, Sample{Comm: m[1], PID: pid, TID: tid, CPU: cpu, NS: sec*1e9 + nsec,
			Event: m[7], Detail: strings.TrimSpace(m[8])})
	}
	return out, sc.Err()
}

var (
	kvRE      = regexp.MustCompile(`([A-Za-z_][\w]*)=(\S+)`)
	napiRE    = regexp.MustCompile(`for device (\S+) work (-?\d+) budget (-?\d+)`)
	enterRE   = regexp.MustCompile(`^NR (-?\d+) \(([^)]*)\)`)
	exitRE    = regexp.MustCompile(`^NR (-?\d+) = (-?\d+)`)
	uprobeRE  = regexp.MustCompile(`^\(([0-9a-f]+)\)`)
	actionRE  = regexp.MustCompile(`\[action=(\w+)\]`)
	numericRE = regexp.MustCompile(`^-?\d+$`)
)

// Fields decodes a sample's details into perf's field names and values:
// numbers as int64, the rest as strings.
func (s Sample) Fields() map[string]any {
	f := map[string]any{}
	switch {
	case s.Event == "napi:napi_poll":
		if m := napiRE.FindStringSubmatch(s.Detail); m != nil {
			f["dev"] = m[1]
			f["work"] = atoi(m[2])
			f["budget"] = atoi(m[3])
		}
		return f
	case s.Event == "raw_syscalls:sys_enter":
		if m := enterRE.FindStringSubmatch(s.Detail); m != nil {
			f["id"] = atoi(m[1])
			for i, a := range strings.Split(m[2], ",") {
				v, _ := strconv.ParseUint(strings.TrimSpace(a), 16, 64)
				f[fmt.Sprintf("a%d", i)] = int64(v)
			}
		}
		return f
	case s.Event == "raw_syscalls:sys_exit":
		if m := exitRE.FindStringSubmatch(s.Detail); m != nil {
			f["id"] = atoi(m[1])
			f["ret"] = atoi(m[2])
		}
		return f
	}
	for _, m := range kvRE.FindAllStringSubmatch(s.Detail, -1) {
		v := strings.TrimRight(m[2], "]")
		if numericRE.MatchString(v) {
			f[m[1]] = atoi(v)
		} else {
			f[m[1]] = v
		}
	}
	if m := actionRE.FindStringSubmatch(s.Detail); m != nil {
		f["action"] = m[1]
	}
	if m := uprobeRE.FindStringSubmatch(s.Detail); m != nil {
		f["addr"] = "0x" + m[1]
	}
	return f
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// intField is a numeric field, or -1 when it is absent. A journey read
// back from JSON holds its numbers as float64.
func intField(f map[string]any, name string) int64 {
	switch v := f[name].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return -1
}

// strField is a text field, or "" when it is absent.
func strField(f map[string]any, name string) string {
	if v, ok := f[name].(string); ok {
		return v
	}
	return ""
}

package perf

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads the count of Event from the CSV output of `perf stat -x,`:
// lines of count,unit,event,running time,percentage,... among perf's other
// messages. perf prints "<not counted>" with a running time of 0 when the
// process never ran while counting was enabled, which is a count of zero;
// any other non-number (such as "<not supported>") is an error.
func Parse(out []byte) (uint64, error) {
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(strings.TrimSpace(line), ",")
		if len(fields) < 3 || fields[2] != Event {
			continue
		}
		value := fields[0]
		if n, err := strconv.ParseUint(value, 10, 64); err == nil {
			return n, nil
		}
		if value == "<not counted>" && len(fields) > 3 && isZero(fields[3]) {
			return 0, nil
		}
		return 0, fmt.Errorf("perf stat reported %s for %s", value, Event)
	}
	return 0, fmt.Errorf("no count for %s in perf's output", Event)
}

func isZero(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == 0
}

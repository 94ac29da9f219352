package compare

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// MemStats is what a server reports of its Go heap on SIGUSR1: the
// runtime's cumulative counts, read with runtime.ReadMemStats. The
// difference between two reports is what the server allocated between
// them.
type MemStats struct {
	Mallocs    uint64 // heap objects allocated
	Frees      uint64 // heap objects freed
	TotalAlloc uint64 // bytes allocated for heap objects
	NumGC      uint64 // completed GC cycles
	// GOMAXPROCS is the server's setting when it answered; 0 from a line
	// without it.
	GOMAXPROCS uint64
}

// memStatsPrefix starts the line; the fields follow as name=value.
const memStatsPrefix = "memstats "

// FormatMemStats is the one line `readiness serve` writes to stderr on
// SIGUSR1, without its newline:
//
//	memstats mallocs=N frees=N total_alloc=N num_gc=N gomaxprocs=N
//
// gomaxprocs is the calling process's current setting.
func FormatMemStats(m *runtime.MemStats) string {
	return fmt.Sprintf("%smallocs=%d frees=%d total_alloc=%d num_gc=%d gomaxprocs=%d", memStatsPrefix, m.Mallocs, m.Frees, m.TotalAlloc, m.NumGC, runtime.GOMAXPROCS(0))
}

// ParseMemStats reads a line written by FormatMemStats. ok is false for
// any other line.
func ParseMemStats(line string) (m MemStats, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), memStatsPrefix)
	if !found {
		return m, false
	}
	fields := map[string]*uint64{"mallocs": &m.Mallocs, "frees": &m.Frees, "total_alloc": &m.TotalAlloc, "num_gc": &m.NumGC}
	seen := 0
	for _, f := range strings.Fields(rest) {
		name, value, _ := strings.Cut(f, "=")
		if name == "gomaxprocs" {
			// Optional: not counted among the required fields.
			if n, err := strconv.ParseUint(value, 10, 64); err == nil {
				m.GOMAXPROCS = n
			}
			continue
		}
		dst, known := fields[name]
		if !known {
			continue
		}
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return MemStats{}, false
		}
		*dst = n
		seen++
	}
	return m, seen == len(fields)
}

package compare

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteBenchmarks writes the rows as Go benchmark result lines, one per
// row, under the configuration lines `go test -bench` prints, so that
// `benchstat old.txt new.txt` compares two runs of compare:
//
//	BenchmarkCompare/model=epoll/conns=100/pipeline=1  41234  24251 ns/op  41234 req/s  11.2 cpu-us/op ...
//
// The iteration count is the requests in the window and ns/op is the
// window's wall time per request (the inverse of the rate). Every figure
// measured per request follows as its own unit; a figure that was not
// measured is left out of its line, and a row not measured at all has no
// line.
func WriteBenchmarks(w io.Writer, res *Results) error {
	bw := bufio.NewWriter(w)
	m := res.Machine
	fmt.Fprintf(bw, "goos: %s\ngoarch: %s\npkg: github.com/readinesslab/readiness/compare\n", m.OS, m.Arch)
	if m.CPUModel != "" {
		fmt.Fprintf(bw, "cpu: %s\n", m.CPUModel)
	}
	for _, r := range res.Rows {
		if line, ok := benchmarkLine(r); ok {
			fmt.Fprintln(bw, line)
		}
	}
	return bw.Flush()
}

// benchmarkLine is one row as a benchmark line; ok is false for a row
// with no request or no rate.
func benchmarkLine(r Row) (string, bool) {
	if r.failed() || r.Requests == 0 || r.RPS == nil || *r.RPS <= 0 {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "BenchmarkCompare/model=%s/conns=%d/pipeline=%d", benchName(r.Model), r.Conns, r.Pipeline)
	if r.OfferedRPS != nil {
		// An open-loop row is its own benchmark, one per offered rate.
		fmt.Fprintf(&b, "/rate=%s", strconv.FormatFloat(*r.OfferedRPS, 'f', -1, 64))
	}
	fmt.Fprintf(&b, "\t%d", r.Requests)
	metric := func(v *float64, unit string) {
		if v != nil {
			fmt.Fprintf(&b, "\t%s %s", strconv.FormatFloat(*v, 'g', 6, 64), unit)
		}
	}
	metric(ptr(1e9/(*r.RPS)), "ns/op")
	metric(r.RPS, "req/s")
	metric(r.P50us, "p50-us")
	metric(r.P90us, "p90-us")
	metric(r.P99us, "p99-us")
	metric(r.P999us, "p99.9-us")
	metric(r.MaxUs, "max-us")
	metric(r.P99ServiceUs, "p99-service-us")
	metric(r.CPUusPerReq, "cpu-us/op")
	metric(r.UserUsPerReq, "user-us/op")
	metric(r.SysUsPerReq, "sys-us/op")
	metric(r.SyscallsPerReq, "syscalls/op")
	metric(r.CtxswPerReq, "ctxsw/op")
	metric(r.AllocsPerReq, "allocs/op")
	metric(r.AllocBytesPerReq, "B/op")
	metric(float(r.GCCount), "gcs")
	metric(float(r.RSSBytes), "rss-bytes")
	metric(float(r.Threads), "threads")
	if r.Errors > 0 {
		metric(ptr(float64(r.Errors)), "errors")
	}
	return b.String(), true
}

// benchName keeps a name part free of the characters the benchmark
// format gives a meaning: white space and the slash between parts.
func benchName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\t' || r == '\n' {
			return '_'
		}
		return r
	}, s)
}

package wrk

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// extraTag starts the line the script's done function prints.
const extraTag = "readiness p99.9_us max_us:"

// Result is what wrk reported.
type Result struct {
	Requests int64         // "N requests in T"
	Elapsed  time.Duration // the T of that line
	RPS      float64       // Requests/sec

	// Socket errors by kind, and responses that were not 2xx or 3xx.
	Connect, Read, Write, Timeout, Non2xx int64

	// Latency percentiles from --latency's distribution.
	P50, P75, P90, P99 time.Duration
	// Max is the Latency line's maximum, or the script's exact figure.
	Max time.Duration
	// P999 comes from the script's done function; zero with HasP999
	// false when the output has no such line.
	P999    time.Duration
	HasP999 bool

	// CPU is the user and system time wrk's process used over its whole
	// life (its connects included), as the kernel reported when it was
	// reaped: the utime and stime /proc/PID/stat shows while it runs.
	// Set by Run; zero from Parse alone.
	CPU time.Duration
}

// Errors is every failure wrk counted.
func (r *Result) Errors() int64 {
	return r.Connect + r.Read + r.Write + r.Timeout + r.Non2xx
}

// Parse reads wrk's report (run with --latency). Requests, Requests/sec
// and the latency distribution are required; error lines appear only when
// there were errors.
func Parse(out []byte) (*Result, error) {
	r := &Result{}
	var haveRequests, haveRPS bool
	percentiles := map[string]*time.Duration{"50%": &r.P50, "75%": &r.P75, "90%": &r.P90, "99%": &r.P99}
	seen := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		var err error
		switch {
		case len(f) == 0:
		case f[0] == "Latency" && len(f) >= 4:
			r.Max, err = duration(f[3])
		case len(f) == 2 && percentiles[f[0]] != nil:
			*percentiles[f[0]], err = duration(f[1])
			seen++
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			if r.Requests, err = strconv.ParseInt(f[0], 10, 64); err == nil {
				r.Elapsed, err = duration(strings.TrimSuffix(f[3], ","))
			}
			haveRequests = true
		case f[0] == "Requests/sec:" && len(f) == 2:
			r.RPS, err = strconv.ParseFloat(f[1], 64)
			haveRPS = true
		case strings.HasPrefix(line, "  Socket errors:") || strings.HasPrefix(line, "Socket errors:"):
			err = socketErrors(line, r)
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			r.Non2xx, err = strconv.ParseInt(f[len(f)-1], 10, 64)
		case strings.HasPrefix(line, extraTag) && len(f) == len(strings.Fields(extraTag))+2:
			var p999, most int64
			if p999, err = strconv.ParseInt(f[len(f)-2], 10, 64); err == nil {
				most, err = strconv.ParseInt(f[len(f)-1], 10, 64)
			}
			r.P999, r.Max, r.HasP999 = time.Duration(p999)*time.Microsecond, time.Duration(most)*time.Microsecond, true
		}
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", strings.TrimSpace(line), err)
		}
	}
	switch {
	case !haveRequests:
		return nil, errors.New(`no "N requests in T" line`)
	case !haveRPS:
		return nil, errors.New(`no "Requests/sec:" line`)
	case seen != len(percentiles) && r.Requests > 0:
		return nil, errors.New("no latency distribution (was wrk run with --latency?)")
	}
	return r, nil
}

// socketErrors reads "Socket errors: connect 0, read 1, write 0, timeout 2".
func socketErrors(line string, r *Result) error {
	_, list, _ := strings.Cut(line, ":")
	for item := range strings.SplitSeq(list, ",") {
		f := strings.Fields(item)
		if len(f) != 2 {
			return fmt.Errorf("socket error item %q", item)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return err
		}
		switch f[0] {
		case "connect":
			r.Connect = n
		case "read":
			r.Read = n
		case "write":
			r.Write = n
		case "timeout":
			r.Timeout = n
		default:
			return fmt.Errorf("unknown socket error kind %q", f[0])
		}
	}
	return nil
}

// duration reads wrk's times: "81.23us", "1.20ms", "2.00s", "1.50m", "1.00h".
func duration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("time %q without a unit", s)
}

package compare

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HDRDir is the directory under the output directory that receives one
// HdrHistogram log per measured row.
const HDRDir = "hdr"

// hdrName is a row's log file name, e.g.
// epoll-c100-p1-open-20000-run2.hlog.
func hdrName(r Row) string {
	mode := "closed"
	if r.OfferedRPS != nil {
		mode = "open-" + strconv.FormatFloat(*r.OfferedRPS, 'f', -1, 64)
	}
	return fmt.Sprintf("%s-c%d-p%d-%s-run%d.hlog", r.Model, r.Conns, r.Pipeline, mode, r.Run)
}

// writeHDR writes each row's latency histograms into dir/hdr with
// hdrhistogram-go's log writer: one interval covering the measured
// window, tagged "corrected" (from intended send times; in closed loop
// the same as from actual sends) and, in open loop, a second tagged
// "service" (from actual sends). Rows from wrk carry no histogram and get
// no log.
func writeHDR(dir string, rows []Row) error {
	var made bool
	for _, r := range rows {
		if r.latency == nil || r.latency.TotalCount() == 0 || r.began.IsZero() {
			continue
		}
		if !made {
			if err := os.MkdirAll(filepath.Join(dir, HDRDir), 0o755); err != nil {
				return err
			}
			made = true
		}
		if err := writeOneHDR(filepath.Join(dir, HDRDir, hdrName(r)), r); err != nil {
			return err
		}
	}
	return nil
}

func writeOneHDR(path string, r Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	lw := hdrhistogram.NewHistogramLogWriter(f)
	start := r.began.UnixMilli()
	window := 0.0
	if r.WindowS != nil {
		window = *r.WindowS
	}
	// No legend line: hdrhistogram-go's own reader takes it for an
	// interval and fails.
	// The interval line holds the window's start relative to the start
	// time (0) and its length. hdrhistogram-go v1.1.2's writer takes both
	// from the histogram's whole-millisecond stamps but prints them as
	// seconds, so the length is given in whole seconds, rounded up; the
	// comment has it exactly.
	length := int64(math.Ceil(window))
	steps := []func() error{
		lw.OutputLogFormatVersion,
		func() error { return lw.OutputStartTime(start) },
		func() error { return lw.OutputBaseTime(start) },
		func() error {
			return lw.OutputComment(fmt.Sprintf("readiness compare: %s, measured window %.3f s", strings.TrimSuffix(hdrName(r), ".hlog"), window))
		},
		// The writer divides the interval max column by 1e6 (nanoseconds
		// to milliseconds); these values are microseconds, so HdrHistogram's
		// tools want -outputValueUnitRatio 1000 to show milliseconds.
		func() error {
			return lw.OutputComment("values in microseconds: use -outputValueUnitRatio 1000 for milliseconds")
		},
		func() error { return output(lw, r.latency, "corrected", length) },
	}
	if r.service != nil {
		steps = append(steps, func() error { return output(lw, r.service, "service", length) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return f.Close()
}

// output writes h as one tagged interval starting at the log's start
// time and lasting length seconds, on a copy so the row's histogram keeps
// no tag.
func output(lw *hdrhistogram.HistogramLogWriter, h *hdrhistogram.Histogram, tag string, length int64) error {
	c := hdrhistogram.Import(h.Export())
	c.SetTag(tag)
	c.SetStartTimeMs(0)
	c.SetEndTimeMs(length)
	return lw.OutputIntervalHistogram(c)
}

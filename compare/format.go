package compare

import (
	"fmt"
	"math"
	"strconv"
)

// The formats shared by the table and results.md. Each takes a Stat and
// shows "-" when the figure is unknown.

// count shows a rate or count compactly: 950, 41.2k, 1.23M.
func count(s Stat) string {
	if s.N == 0 {
		return "-"
	}
	v := s.Median
	switch {
	case v >= 1e6:
		return sig(v/1e6, 3) + "M"
	case v >= 1e3:
		return sig(v/1e3, 3) + "k"
	}
	return sig(v, 3)
}

// latency shows microseconds as µs, ms or s.
func latency(s Stat) string {
	if s.N == 0 {
		return "-"
	}
	v := s.Median
	switch {
	case v >= 1e6:
		return sig(v/1e6, 3) + "s"
	case v >= 1e3:
		return sig(v/1e3, 3) + "ms"
	}
	return strconv.FormatFloat(math.Round(v), 'f', -1, 64) + "µs"
}

// number shows a figure with three significant digits, never in
// exponent form: 4.21, 0.134, 0.00123, 1520.
func number(s Stat) string {
	if s.N == 0 {
		return "-"
	}
	return sig(s.Median, 3)
}

// bytesIEC shows a size in KiB, MiB or GiB.
func bytesIEC(s Stat) string {
	if s.N == 0 {
		return "-"
	}
	v := s.Median
	switch {
	case v >= 1<<30:
		return sig(v/(1<<30), 3) + "GiB"
	case v >= 1<<20:
		return sig(v/(1<<20), 3) + "MiB"
	}
	return sig(v/(1<<10), 3) + "KiB"
}

// integer shows a whole number, such as a thread count.
func integer(s Stat) string {
	if s.N == 0 {
		return "-"
	}
	return strconv.FormatFloat(math.Round(s.Median), 'f', 0, 64)
}

// spread shows half the range across runs relative to the median: "±3%".
func spread(s Stat) string {
	if s.N < 2 {
		return "-"
	}
	return fmt.Sprintf("±%.0f%%", 100*s.Spread())
}

// sig formats v with digits significant digits, keeping whole numbers
// whole.
func sig(v float64, digits int) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	places := digits - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	if places < 0 {
		places = 0
	}
	return strconv.FormatFloat(v, 'f', places, 64)
}

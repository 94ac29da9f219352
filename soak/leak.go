package soak

import (
	"fmt"
	"slices"
	"time"
)

// Limits is the leak criterion. A server leaked when either holds:
//
//   - fds: once the clients are gone and the server has had Settle to close
//     what they left, it holds more than FDSlack descriptors above its
//     baseline (the count before any client connected, after one warm-up
//     request).
//   - RSS: the median resident size over the last quarter of the load
//     exceeds the median over the second quarter by more than RSSGrowth
//     bytes or RSSGrowthFrac of that earlier median, whichever is larger.
//     The first quarter is left out: heaps and buffer pools grow to their
//     working size there. Medians, not maxima, so that one burst (a
//     never-reading client holding its unsent bound) does not count as a
//     trend, while memory that is never given back raises every later
//     reading and so the median.
//
// With fewer than four readings during the load, RSS is not judged and the
// report says so.
type Limits struct {
	FDSlack       int     // default 0: back to baseline exactly
	RSSGrowth     int64   // bytes; default 4 MiB
	RSSGrowthFrac float64 // default 0.10
}

// Default limits.
const (
	DefaultRSSGrowth     = 4 << 20
	DefaultRSSGrowthFrac = 0.10
)

func (l Limits) withDefaults() Limits {
	if l.RSSGrowth == 0 {
		l.RSSGrowth = DefaultRSSGrowth
	}
	if l.RSSGrowthFrac == 0 {
		l.RSSGrowthFrac = DefaultRSSGrowthFrac
	}
	return l
}

func (l Limits) validate() error {
	if l.FDSlack < 0 || l.RSSGrowth < 0 || l.RSSGrowthFrac < 0 {
		return fmt.Errorf("leak limits must not be negative")
	}
	return nil
}

// Sample is one reading of a server process.
type Sample struct {
	At      time.Duration // since the clients started; negative for the baseline
	FDs     int           // entries in /proc/PID/fd
	RSS     int64         // VmRSS, bytes
	Threads int
}

// Curve is one server's readings over a run.
type Curve struct {
	Baseline Sample        // before any client connected
	Load     []Sample      // every Interval while the clients ran
	Stopped  time.Duration // when the last client had stopped
	Settled  Sample        // after that: the first reading within the fd slack, or the last one taken
}

// RSSTrend is what the RSS criterion compares: the medians of the second
// and of the last quarter of the load readings. ok is false with fewer than
// four readings.
func (c Curve) RSSTrend() (early, late int64, ok bool) {
	n := len(c.Load)
	if n < 4 {
		return 0, 0, false
	}
	q := n / 4
	return medianRSS(c.Load[q : 2*q]), medianRSS(c.Load[n-q:]), true
}

// Leaks applies the criterion to c and says, one line each, what leaked.
// None means the curves are flat.
func (l Limits) Leaks(c Curve) []string {
	l = l.withDefaults()
	var out []string
	if extra := c.Settled.FDs - c.Baseline.FDs; extra > l.FDSlack {
		out = append(out, fmt.Sprintf("fds: %d after the clients left (%v after they stopped), baseline %d: %d not released (slack %d)",
			c.Settled.FDs, (c.Settled.At-c.Stopped).Round(time.Millisecond), c.Baseline.FDs, extra, l.FDSlack))
	}
	if early, late, ok := c.RSSTrend(); ok {
		bound := max(l.RSSGrowth, int64(l.RSSGrowthFrac*float64(early)))
		if late-early > bound {
			out = append(out, fmt.Sprintf("rss: median %s over the last quarter against %s over the second: grew %s, bound %s",
				mib(late), mib(early), mib(late-early), mib(bound)))
		}
	}
	return out
}

func medianRSS(s []Sample) int64 {
	v := make([]int64, len(s))
	for i, x := range s {
		v[i] = x.RSS
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func mib(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

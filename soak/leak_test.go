package soak

import (
	"strings"
	"testing"
	"time"
)

const mb = 1 << 20

// curve builds a run of n load readings every second: fds(i) and rss(i)
// give reading i; the baseline has baseFDs and the first RSS, the settled
// reading endFDs.
func curve(n, baseFDs, endFDs int, fds func(int) int, rss func(int) int64) Curve {
	c := Curve{Baseline: Sample{FDs: baseFDs, RSS: rss(0), Threads: 5}}
	for i := 0; i < n; i++ {
		c.Load = append(c.Load, Sample{At: time.Duration(i+1) * time.Second, FDs: fds(i), RSS: rss(i), Threads: 7})
	}
	c.Stopped = time.Duration(n) * time.Second
	c.Settled = Sample{At: c.Stopped + 300*time.Millisecond, FDs: endFDs, RSS: rss(n - 1)}
	return c
}

// jitter is a repeatable wobble of ±amp around zero.
func jitter(i int, amp int64) int64 { return int64((i*7919)%11-5) * amp / 5 }

func TestLeaksFlat(t *testing.T) {
	c := curve(120, 15, 15,
		func(i int) int { return 28 + int(jitter(i, 3)) },
		func(i int) int64 { return 14*mb + jitter(i, mb) })
	if leaks := (Limits{}).Leaks(c); len(leaks) != 0 {
		t.Errorf("flat curves: %q", leaks)
	}
}

func TestLeaksFDsNotReleased(t *testing.T) {
	// The count grows through the run and does not come back.
	c := curve(120, 15, 75,
		func(i int) int { return 28 + i/2 },
		func(i int) int64 { return 14 * mb })
	leaks := (Limits{}).Leaks(c)
	if len(leaks) != 1 || !strings.HasPrefix(leaks[0], "fds: 75 ") || !strings.Contains(leaks[0], "60 not released") {
		t.Errorf("growing fds: %q, want one fd leak of 60", leaks)
	}
	// One descriptor over the baseline is a leak without slack, not with.
	c.Settled.FDs = 16
	if leaks := (Limits{}).Leaks(c); len(leaks) != 1 {
		t.Errorf("one fd over, no slack: %q", leaks)
	}
	if leaks := (Limits{FDSlack: 1}).Leaks(c); len(leaks) != 0 {
		t.Errorf("one fd over, slack 1: %q", leaks)
	}
}

func TestLeaksRSSGrowing(t *testing.T) {
	// 100 KiB per reading: 6 MiB between the quarters' medians.
	c := curve(120, 15, 15,
		func(int) int { return 28 },
		func(i int) int64 { return 14*mb + int64(i)*100<<10 + jitter(i, mb/4) })
	leaks := (Limits{}).Leaks(c)
	if len(leaks) != 1 || !strings.HasPrefix(leaks[0], "rss: ") {
		t.Errorf("growing RSS: %q, want one RSS leak", leaks)
	}
	early, late, ok := c.RSSTrend()
	if !ok || late-early < 5*mb || late-early > 7*mb {
		t.Errorf("trend %d -> %d (%v): want about 6 MiB of growth", early, late, ok)
	}
	// A larger allowance takes it.
	if leaks := (Limits{RSSGrowth: 8 * mb}).Leaks(c); len(leaks) != 0 {
		t.Errorf("growing RSS under an 8 MiB allowance: %q", leaks)
	}
}

func TestLeaksRSSProportional(t *testing.T) {
	// A 200 MiB server may grow by 10% (20 MiB), more than the absolute
	// 4 MiB; 30 MiB is over.
	step := func(total int64) func(int) int64 {
		return func(i int) int64 { return 200*mb + int64(i)*total/60 }
	}
	flat := func(int) int { return 28 }
	if leaks := (Limits{}).Leaks(curve(120, 15, 15, flat, step(12*mb))); len(leaks) != 0 {
		t.Errorf("12 MiB growth of 200 MiB: %q", leaks)
	}
	if leaks := (Limits{}).Leaks(curve(120, 15, 15, flat, step(30*mb))); len(leaks) != 1 {
		t.Errorf("30 MiB growth of 200 MiB: %q, want a leak", leaks)
	}
}

func TestLeaksRSSSpike(t *testing.T) {
	// Two readings during a never-reading client's burst, late in the
	// run, are not a trend.
	c := curve(120, 15, 15,
		func(int) int { return 28 },
		func(i int) int64 {
			if i == 100 || i == 110 {
				return 40 * mb
			}
			return 14 * mb
		})
	if leaks := (Limits{}).Leaks(c); len(leaks) != 0 {
		t.Errorf("a spike: %q", leaks)
	}
}

func TestLeaksFewReadings(t *testing.T) {
	c := curve(3, 15, 15, func(int) int { return 28 }, func(i int) int64 { return int64(i+1) * 100 * mb })
	if _, _, ok := c.RSSTrend(); ok {
		t.Error("three readings: RSS trend judged")
	}
	if leaks := (Limits{}).Leaks(c); len(leaks) != 0 {
		t.Errorf("three readings: %q", leaks)
	}
}

package compare

import (
	"fmt"
	"slices"
	"strings"
)

// Reading writes a few plain sentences on what the summaries show, each
// computed from the figures: which model used the least CPU per request,
// which served the most requests, where the kernel's share lies, how many
// system calls each needed, and how far the runs agreed.
func Reading(sums []Summary) []string {
	var out []string
	pipes := distinct(sums, func(s Summary) int { return s.Pipeline })
	for _, p := range pipes {
		cell := filter(sums, func(s Summary) bool { return s.Pipeline == p })
		ref := refConns(cell)
		if line := leastCPU(cell, p, ref); line != "" {
			out = append(out, line)
		}
		if line := mostRPS(cell, p, ref); line != "" {
			out = append(out, line)
		}
		if line := lowestP99(cell, p, ref); line != "" {
			out = append(out, line)
		}
	}
	out = append(out, kernelShare(sums)...)
	out = append(out, syscalls(sums)...)
	if line := threadsLine(sums); line != "" {
		out = append(out, line)
	}
	out = append(out, agreement(sums)...)
	return out
}

// refConns is the connection count quoted in detail: 100 when measured,
// else the largest.
func refConns(sums []Summary) int {
	conns := distinct(sums, func(s Summary) int { return s.Conns })
	if slices.Contains(conns, 100) {
		return 100
	}
	return slices.Max(conns)
}

// best finds the summary with the lowest (or highest) median of a figure
// among those that have it, and whether the runner-up is within the runs'
// spread of it.
func best(sums []Summary, get func(Summary) Stat, lowest bool) (win Summary, tie bool, ok bool) {
	var have []Summary
	for _, s := range sums {
		if get(s).N > 0 {
			have = append(have, s)
		}
	}
	if len(have) == 0 {
		return Summary{}, false, false
	}
	slices.SortStableFunc(have, func(a, b Summary) int {
		x, y := get(a).Median, get(b).Median
		if !lowest {
			x, y = y, x
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	if len(have) > 1 {
		a, b := get(have[0]), get(have[1])
		// A tie: the ranges of the two overlap.
		if lowest {
			tie = b.Min <= a.Max
		} else {
			tie = b.Max >= a.Min
		}
	}
	return have[0], tie, true
}

func leastCPU(sums []Summary, p, ref int) string {
	conns := distinct(sums, func(s Summary) int { return s.Conns })
	winners := map[string][]int{}
	var order []string
	for _, c := range conns {
		w, _, ok := best(filter(sums, func(s Summary) bool { return s.Conns == c }), func(s Summary) Stat { return s.CPUus }, true)
		if !ok {
			continue
		}
		if _, seen := winners[w.Model]; !seen {
			order = append(order, w.Model)
		}
		winners[w.Model] = append(winners[w.Model], c)
	}
	if len(order) == 0 {
		return ""
	}
	var b strings.Builder
	if len(order) == 1 {
		fmt.Fprintf(&b, "With pipeline %d, %s used the least server CPU per request at every concurrency measured.", p, order[0])
	} else {
		var parts []string
		for _, m := range order {
			parts = append(parts, fmt.Sprintf("%s at %s connections", m, joinInts(winners[m])))
		}
		fmt.Fprintf(&b, "With pipeline %d, the model using the least server CPU per request depends on the concurrency: %s.", p, strings.Join(parts, ", "))
	}
	at := filter(sums, func(s Summary) bool { return s.Conns == ref })
	if w, tie, ok := best(at, func(s Summary) Stat { return s.CPUus }, true); ok {
		fmt.Fprintf(&b, " At %d connections: %s.", ref, compared(at, w, func(s Summary) Stat { return s.CPUus }, func(v Stat) string { return number(v) + " µs" }))
		if tie {
			b.WriteString(" The two lowest overlap across runs, so that lead is within the noise.")
		}
	}
	return b.String()
}

func mostRPS(sums []Summary, p, ref int) string {
	at := filter(sums, func(s Summary) bool { return s.Conns == ref })
	w, tie, ok := best(at, func(s Summary) Stat { return s.RPS }, false)
	if !ok {
		return ""
	}
	line := fmt.Sprintf("With pipeline %d and %d connections, %s served the most requests per second: %s.", p, ref, w.Model, compared(at, w, func(s Summary) Stat { return s.RPS }, count))
	if tie {
		line += " The top two overlap across runs."
	}
	return line
}

func lowestP99(sums []Summary, p, ref int) string {
	at := filter(sums, func(s Summary) bool { return s.Conns == ref })
	w, _, ok := best(at, func(s Summary) Stat { return s.P99us }, true)
	if !ok {
		return ""
	}
	var parts []string
	for _, s := range at {
		if s.P99us.N > 0 {
			parts = append(parts, s.Model+" "+latency(s.P99us))
		}
	}
	return fmt.Sprintf("The lowest p99 latency with pipeline %d and %d connections was %s's (%s).", p, ref, w.Model, strings.Join(parts, ", "))
}

// compared lists every model's figure with its ratio to the winner's.
func compared(sums []Summary, w Summary, get func(Summary) Stat, show func(Stat) string) string {
	var parts []string
	for _, s := range sums {
		v := get(s)
		if v.N == 0 {
			continue
		}
		part := s.Model + " " + show(v)
		if s.Model != w.Model && get(w).Median > 0 {
			part += fmt.Sprintf(" (%s×)", sig(v.Median/get(w).Median, 3))
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// kernelShare says what part of each model's CPU was system time.
func kernelShare(sums []Summary) []string {
	var out []string
	for _, p := range distinct(sums, func(s Summary) int { return s.Pipeline }) {
		at := filter(sums, func(s Summary) bool { return s.Pipeline == p })
		ref := refConns(at)
		var parts []string
		for _, s := range filter(at, func(s Summary) bool { return s.Conns == ref }) {
			if s.SysUs.N > 0 && s.CPUus.Median > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Model, 100*s.SysUs.Median/s.CPUus.Median))
			}
		}
		if len(parts) > 0 {
			out = append(out, fmt.Sprintf("Share of the server's CPU spent in the kernel (pipeline %d, %d connections): %s; the rest is the server's own code and its runtime.", p, ref, strings.Join(parts, ", ")))
		}
	}
	return out
}

// syscalls gives the system calls per request at the reference cell.
func syscalls(sums []Summary) []string {
	var parts []string
	for _, p := range distinct(sums, func(s Summary) int { return s.Pipeline }) {
		at := filter(sums, func(s Summary) bool { return s.Pipeline == p })
		ref := refConns(at)
		var models []string
		for _, s := range filter(at, func(s Summary) bool { return s.Conns == ref }) {
			if s.Syscalls.N > 0 {
				models = append(models, s.Model+" "+number(s.Syscalls))
			}
		}
		if len(models) > 0 {
			parts = append(parts, fmt.Sprintf("with pipeline %d and %d connections, %s", p, ref, strings.Join(models, ", ")))
		}
	}
	if len(parts) == 0 {
		return []string{"System calls were not counted (perf unavailable; the notes in results.json say why)."}
	}
	return []string{"System calls per request: " + strings.Join(parts, "; ") + "."}
}

// threadsLine gives each model's threads at the most connections.
func threadsLine(sums []Summary) string {
	conns := distinct(sums, func(s Summary) int { return s.Conns })
	top := slices.Max(conns)
	seen := map[string]bool{}
	var parts []string
	for _, s := range filter(sums, func(s Summary) bool { return s.Conns == top }) {
		if s.Threads.N == 0 || seen[s.Model] {
			continue
		}
		seen[s.Model] = true
		parts = append(parts, s.Model+" "+integer(s.Threads))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("Threads in the server process at %d connections: %s.", top, strings.Join(parts, ", "))
}

// agreement reports errors and cells where the runs disagreed.
func agreement(sums []Summary) []string {
	var out []string
	var errs int64
	failed := 0
	for _, s := range sums {
		errs += s.Errors
		failed += s.Failed
	}
	switch {
	case errs == 0 && failed == 0:
		out = append(out, "No request failed and every cell was measured.")
	default:
		out = append(out, fmt.Sprintf("%d requests failed and %d cell runs could not be measured: the notes in results.json say why.", errs, failed))
	}
	var noisy []string
	for _, s := range sums {
		if s.RPS.Spread() > 0.10 || s.CPUus.Spread() > 0.10 {
			noisy = append(noisy, fmt.Sprintf("%s at %d connections, pipeline %d", s.Model, s.Conns, s.Pipeline))
		}
	}
	switch {
	case len(noisy) > 4:
		out = append(out, fmt.Sprintf("Runs disagreed by more than ±10%% in throughput or CPU per request in %d of %d cells (the ± columns): read small differences as ties, or rerun on a quieter machine, with more -runs or a longer -duration.", len(noisy), len(sums)))
	case len(noisy) > 0:
		out = append(out, fmt.Sprintf("Runs disagreed by more than ±10%% in throughput or CPU per request for %s: read small differences there as ties, or rerun with more -runs or a longer -duration.", strings.Join(noisy, "; ")))
	}
	return out
}

func distinct(sums []Summary, key func(Summary) int) []int {
	var out []int
	for _, s := range sums {
		if k := key(s); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func filter(sums []Summary, keep func(Summary) bool) []Summary {
	var out []Summary
	for _, s := range sums {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

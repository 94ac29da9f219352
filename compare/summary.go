package compare

import (
	"cmp"
	"slices"
)

// Stat is one figure over the runs of a cell: its median and range. N is
// how many runs measured it; with N zero the figure is unknown.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// Spread is half the range as a fraction of the median: 0.03 reads
// "±3%". Zero when unknown.
func (s Stat) Spread() float64 {
	if s.N < 2 || s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / 2 / s.Median
}

func stat(values []float64) Stat {
	if len(values) == 0 {
		return Stat{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return Stat{Median: med, Min: v[0], Max: v[n-1], N: n}
}

// Summary is a cell's figures over its runs.
type Summary struct {
	Model    string
	Conns    int
	Pipeline int
	Mode     string  // ModeClosed or ModeOpen
	Offered  float64 // open loop: the offered rate; 0 closed
	Runs     int     // rows of this cell, measured or not
	// ClientBound is how many measured runs were client-bound.
	ClientBound int
	Errors      int64 // over all runs
	Failed      int   // runs that could not be measured

	RPS, P50us, P90us, P99us, P999us, MaxUs Stat
	CPUus, UserUs, SysUs                    Stat
	Syscalls, Ctxsw                         Stat
	Allocs, GCs                             Stat
	RSS, PeakRSS, Threads                   Stat

	P99Service, SendLag    Stat // open loop
	ServerUtil, ClientUtil Stat
	ServerWait, ClientWait Stat
}

// clientBound reports whether most measured runs of the cell were
// client-bound.
func (s Summary) clientBound() bool {
	return s.ClientBound > 0 && 2*s.ClientBound >= s.Runs-s.Failed
}

// Summarize groups rows by cell: closed-loop cells first, ordered by
// pipeline, then connections, then model, each in the order it first
// appears, so the models of one cell sit side by side; then open-loop
// cells by pipeline, connections, offered rate (rising) and model.
func Summarize(rows []Row) []Summary {
	type key struct {
		model           string
		conns, pipeline int
		offered         float64
	}
	var keys []key
	groups := map[key][]Row{}
	var models []string
	var conns, pipes []int
	for _, r := range rows {
		k := key{r.Model, r.Conns, r.Pipeline, offered(r)}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
		if !slices.Contains(models, r.Model) {
			models = append(models, r.Model)
		}
		if !slices.Contains(conns, r.Conns) {
			conns = append(conns, r.Conns)
		}
		if !slices.Contains(pipes, r.Pipeline) {
			pipes = append(pipes, r.Pipeline)
		}
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		if (a.offered > 0) != (b.offered > 0) {
			if a.offered > 0 {
				return 1
			}
			return -1
		}
		if d := slices.Index(pipes, a.pipeline) - slices.Index(pipes, b.pipeline); d != 0 {
			return d
		}
		if d := slices.Index(conns, a.conns) - slices.Index(conns, b.conns); d != 0 {
			return d
		}
		if d := cmp.Compare(a.offered, b.offered); d != 0 {
			return d
		}
		return slices.Index(models, a.model) - slices.Index(models, b.model)
	})

	out := make([]Summary, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		s := Summary{Model: k.model, Conns: k.conns, Pipeline: k.pipeline, Mode: ModeClosed, Offered: k.offered, Runs: len(g)}
		if k.offered > 0 {
			s.Mode = ModeOpen
		}
		var measured []Row
		for _, r := range g {
			s.Errors += r.Errors
			if r.failed() {
				s.Failed++
				continue
			}
			measured = append(measured, r)
			if r.ClientBound {
				s.ClientBound++
			}
		}
		s.RPS = over(measured, func(r Row) *float64 { return r.RPS })
		s.P50us = over(measured, func(r Row) *float64 { return r.P50us })
		s.P90us = over(measured, func(r Row) *float64 { return r.P90us })
		s.P99us = over(measured, func(r Row) *float64 { return r.P99us })
		s.P999us = over(measured, func(r Row) *float64 { return r.P999us })
		s.MaxUs = over(measured, func(r Row) *float64 { return r.MaxUs })
		s.CPUus = over(measured, func(r Row) *float64 { return r.CPUusPerReq })
		s.UserUs = over(measured, func(r Row) *float64 { return r.UserUsPerReq })
		s.SysUs = over(measured, func(r Row) *float64 { return r.SysUsPerReq })
		s.Syscalls = over(measured, func(r Row) *float64 { return r.SyscallsPerReq })
		s.Ctxsw = over(measured, func(r Row) *float64 { return r.CtxswPerReq })
		s.Allocs = over(measured, func(r Row) *float64 { return r.AllocsPerReq })
		s.GCs = over(measured, func(r Row) *float64 { return float(r.GCCount) })
		s.RSS = over(measured, func(r Row) *float64 { return float(r.RSSBytes) })
		s.PeakRSS = over(measured, func(r Row) *float64 { return float(r.PeakRSSBytes) })
		s.Threads = over(measured, func(r Row) *float64 { return float(r.Threads) })
		s.P99Service = over(measured, func(r Row) *float64 { return r.P99ServiceUs })
		s.SendLag = over(measured, func(r Row) *float64 { return r.SendLagP99us })
		s.ServerUtil = over(measured, func(r Row) *float64 { return r.ServerCPUUtil })
		s.ClientUtil = over(measured, func(r Row) *float64 { return r.ClientCPUUtil })
		s.ServerWait = over(measured, func(r Row) *float64 { return r.ServerWait })
		s.ClientWait = over(measured, func(r Row) *float64 { return r.ClientWait })
		out = append(out, s)
	}
	return out
}

// over collects a figure from the rows that have it.
func over(rows []Row, get func(Row) *float64) Stat {
	var v []float64
	for _, r := range rows {
		if p := get(r); p != nil {
			v = append(v, *p)
		}
	}
	return stat(v)
}

func float[T int | int64](p *T) *float64 {
	if p == nil {
		return nil
	}
	return ptr(float64(*p))
}

// offered is a row's offered rate, 0 in closed loop.
func offered(r Row) float64 {
	if r.OfferedRPS == nil {
		return 0
	}
	return *r.OfferedRPS
}

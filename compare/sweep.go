package compare

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ParseRates reads a comma-separated list of offered rates in requests
// per second, each a positive number with an optional k (thousands) or M
// (millions) suffix: "2k,10k,50k,1.5M". The rates are returned sorted,
// without repeats.
func ParseRates(s string) ([]float64, error) {
	var out []float64
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		mult := 1.0
		switch {
		case strings.HasSuffix(part, "k"):
			mult, part = 1e3, strings.TrimSuffix(part, "k")
		case strings.HasSuffix(part, "M"):
			mult, part = 1e6, strings.TrimSuffix(part, "M")
		}
		v, err := strconv.ParseFloat(part, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("rate %q: want a positive number of requests per second, such as 500, 2k or 1.5M", part)
		}
		if v = v * mult; !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// FormatRate shows a rate compactly: 950, 41.2k, 1.23M.
func FormatRate(v float64) string { return count(Stat{Median: v, N: 1}) }

// AutoPoints is how many rates -rates auto offers unless told otherwise.
const AutoPoints = 8

// The span of automatic rates, as shares of the models' closed-loop
// capacities: from autoLow of the slowest model's to autoHigh of the
// fastest one's, so every model is measured well below its knee and
// beyond it.
const (
	autoLow  = 0.05
	autoHigh = 1.2
)

// autoRates is n rates spaced evenly on a log scale from autoLow of the
// lowest capacity to autoHigh of the highest, each rounded to two
// significant digits. Capacities that are not positive are ignored; with
// none left it returns nil.
func autoRates(capacities []float64, n int) []float64 {
	lo, hi := math.Inf(1), 0.0
	for _, c := range capacities {
		if c > 0 {
			lo, hi = min(lo, c), max(hi, c)
		}
	}
	if hi == 0 || n < 2 {
		return nil
	}
	from, to := math.Log(autoLow*lo), math.Log(autoHigh*hi)
	out := make([]float64, 0, n)
	for i := range n {
		v := roundSig(math.Exp(from+(to-from)*float64(i)/float64(n-1)), 2)
		if len(out) == 0 || v > out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// The knee rules. A model's knee in a swept cell is the lowest offered
// rate at which either holds (on the medians over the runs).
const (
	// kneeAchieved: the server answered less than this share of the
	// offered rate.
	kneeAchieved = 0.97
	// kneeLatency: corrected p99 exceeded this multiple of its value at
	// the lowest rate offered.
	kneeLatency = 3.0

	RuleAchieved = "achieved < 97% of offered"
	RuleLatency  = "p99 > 3x its value at the lowest rate"
	RuleNone     = "not reached at the rates offered"
)

// KneeRules states both rules, for the table's and results.md's readers.
const KneeRules = "The knee is the lowest offered rate at which the achieved rate fell below 97% of the offered one, or the corrected p99 rose above 3 times its value at the lowest rate offered; client-bound cells are left out, as they say nothing of the server."

// Knee is one model's knee in one swept cell. KneeRPS is nil when neither
// rule held at any rate offered; Rule names the rule that held.
type Knee struct {
	Model    string   `json:"model"`
	Conns    int      `json:"conns"`
	Pipeline int      `json:"pipeline"`
	KneeRPS  *float64 `json:"knee_rps"`
	Rule     string   `json:"rule"`
	// BaseP99us is the corrected p99 at the lowest rate, which the
	// latency rule multiplies.
	BaseP99us *float64 `json:"base_p99_us"`
}

// Knees finds each model's knee in each swept cell from the summaries.
// A summary counts as client-bound when most of its runs were.
func Knees(sums []Summary) []Knee {
	type key struct {
		model string
		shape
	}
	var order []key
	curves := map[key][]Summary{}
	for _, s := range sums {
		if s.Mode != ModeOpen {
			continue
		}
		k := key{s.Model, shape{s.Conns, s.Pipeline}}
		if _, ok := curves[k]; !ok {
			order = append(order, k)
		}
		curves[k] = append(curves[k], s)
	}
	var out []Knee
	for _, k := range order {
		kn := knee(curves[k])
		kn.Model, kn.Conns, kn.Pipeline = k.model, k.conns, k.pipeline
		out = append(out, kn)
	}
	return out
}

// knee applies the rules to one model's curve in one cell.
func knee(curve []Summary) Knee {
	curve = slices.Clone(curve)
	slices.SortFunc(curve, func(a, b Summary) int { return cmp.Compare(a.Offered, b.Offered) })
	var kn Knee
	base := -1.0
	for _, s := range curve {
		if s.clientBound() || s.RPS.N == 0 || s.P99us.N == 0 {
			continue
		}
		if base < 0 {
			base = s.P99us.Median
			kn.BaseP99us = ptr(base)
		}
		switch {
		case s.RPS.Median < kneeAchieved*s.Offered:
			kn.KneeRPS, kn.Rule = ptr(s.Offered), RuleAchieved
			return kn
		case s.P99us.Median > kneeLatency*base:
			kn.KneeRPS, kn.Rule = ptr(s.Offered), RuleLatency
			return kn
		}
	}
	kn.Rule = RuleNone
	return kn
}

// kneeOf is the knee of model in the cell, if one was found.
func kneeOf(knees []Knee, model string, conns, pipeline int) (float64, bool) {
	for _, k := range knees {
		if k.Model == model && k.Conns == conns && k.Pipeline == pipeline && k.KneeRPS != nil {
			return *k.KneeRPS, true
		}
	}
	return 0, false
}

// ratesFor is the rates offered to every model in the swept shape: the
// list given, or automatic rates drawn from the closed-loop capacity each
// model showed in that shape in the rows so far (the first run's). With
// no capacity measured it warns and sweeps nothing.
func (r *runner) ratesFor(sh shape, rows []Row) []float64 {
	if !r.o.AutoRates {
		return r.o.Rates
	}
	var caps []float64
	for _, m := range r.o.Models {
		var v []float64
		for _, row := range rows {
			if row.Model == m && row.Mode == ModeClosed && row.Conns == sh.conns && row.Pipeline == sh.pipeline && row.RPS != nil && !row.failed() {
				v = append(v, *row.RPS)
			}
		}
		if st := stat(v); st.N > 0 {
			caps = append(caps, st.Median)
		}
	}
	rates := autoRates(caps, r.o.AutoPoints)
	if rates == nil && r.o.Warn != nil {
		r.o.Warn(fmt.Sprintf("no closed-loop capacity measured at %d connections, pipeline %d: that cell is not swept", sh.conns, sh.pipeline))
	}
	return rates
}

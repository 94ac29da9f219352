package compare

import (
	"fmt"
	"io"
	"slices"
)

// Ratio is one model's server CPU per request over another's in one cell,
// taken within each run (the two rows were measured minutes apart at
// most, under the same machine state) and then summarized over the runs:
// the median and the range. A run in which either row was client-bound
// or not measured is left out: its ratio says nothing of the servers.
type Ratio struct {
	Num        string    `json:"num"`
	Den        string    `json:"den"`
	Conns      int       `json:"conns"`
	Pipeline   int       `json:"pipeline"`
	Mode       string    `json:"mode"`
	OfferedRPS *float64  `json:"offered_rps"`
	Runs       []float64 `json:"runs"` // one per run kept, in run order
	Median     *float64  `json:"median"`
	Min        *float64  `json:"min"`
	Max        *float64  `json:"max"`
	// Dropped is how many runs were left out because a row was
	// client-bound or not measured.
	Dropped int `json:"dropped"`
}

// Ratios computes, for every cell and every pair of models (in the order
// they were measured), the ratio of their CPU per request run by run.
func Ratios(rows []Row) []Ratio {
	type cellKey struct {
		conns, pipeline int
		offered         float64
	}
	var models []string
	var cells []cellKey
	byRun := map[cellKey]map[int]map[string]Row{}
	for _, r := range rows {
		if !slices.Contains(models, r.Model) {
			models = append(models, r.Model)
		}
		k := cellKey{r.Conns, r.Pipeline, offered(r)}
		if byRun[k] == nil {
			byRun[k] = map[int]map[string]Row{}
			cells = append(cells, k)
		}
		if byRun[k][r.Run] == nil {
			byRun[k][r.Run] = map[string]Row{}
		}
		byRun[k][r.Run][r.Model] = r
	}
	var out []Ratio
	for _, k := range cells {
		runs := make([]int, 0, len(byRun[k]))
		for run := range byRun[k] {
			runs = append(runs, run)
		}
		slices.Sort(runs)
		for i, num := range models {
			for _, den := range models[i+1:] {
				ra := Ratio{Num: num, Den: den, Conns: k.conns, Pipeline: k.pipeline, Mode: ModeClosed, Runs: []float64{}}
				if k.offered > 0 {
					ra.Mode, ra.OfferedRPS = ModeOpen, ptr(k.offered)
				}
				have := false
				for _, run := range runs {
					a, okA := byRun[k][run][num]
					b, okB := byRun[k][run][den]
					if !okA || !okB {
						continue
					}
					have = true
					if a.failed() || b.failed() || a.ClientBound || b.ClientBound || a.CPUusPerReq == nil || b.CPUusPerReq == nil || *b.CPUusPerReq == 0 {
						ra.Dropped++
						continue
					}
					ra.Runs = append(ra.Runs, *a.CPUusPerReq / *b.CPUusPerReq)
				}
				if !have {
					continue
				}
				if st := stat(ra.Runs); st.N > 0 {
					ra.Median, ra.Min, ra.Max = ptr(st.Median), ptr(st.Min), ptr(st.Max)
				}
				out = append(out, ra)
			}
		}
	}
	return out
}

// String is the ratio as one line: "epoll/gnet 0.92 [0.88-0.95] over 3
// runs".
func (r Ratio) String() string {
	name := r.Num + "/" + r.Den
	if r.Median == nil {
		return fmt.Sprintf("%s: none (%d run(s) client-bound or not measured)", name, r.Dropped)
	}
	s := fmt.Sprintf("%s %s", name, sig(*r.Median, 3))
	if len(r.Runs) > 1 {
		s += fmt.Sprintf(" [%s-%s]", sig(*r.Min, 3), sig(*r.Max, 3))
	}
	s += fmt.Sprintf(" over %d run(s)", len(r.Runs))
	if r.Dropped > 0 {
		s += fmt.Sprintf(", %d client-bound or unmeasured run(s) left out", r.Dropped)
	}
	return s
}

// where names the ratio's cell.
func (r Ratio) where() string {
	if r.OfferedRPS != nil {
		return fmt.Sprintf("%d conns, pipeline %d, open loop at %s/s", r.Conns, r.Pipeline, FormatRate(*r.OfferedRPS))
	}
	return fmt.Sprintf("%d conns, pipeline %d, closed loop", r.Conns, r.Pipeline)
}

// writeRatios writes one line per cell with its ratios, each line
// prefixed by prefix ("- " in Markdown).
func writeRatios(w io.Writer, ratios []Ratio, prefix string) {
	for i := 0; i < len(ratios); {
		j := i
		line := prefix + ratios[i].where() + ": "
		for ; j < len(ratios) && ratios[j].where() == ratios[i].where(); j++ {
			if j > i {
				line += "; "
			}
			line += ratios[j].String()
		}
		fmt.Fprintln(w, line)
		i = j
	}
}

// RatioLegend says what the ratio lines are.
const RatioLegend = "Server CPU µs per request, one model over another, taken within each run and then over the runs: the median, with the range between runs in brackets. A run where either row was client-bound is left out."

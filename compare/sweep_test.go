package compare

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseRates(t *testing.T) {
	got, err := ParseRates("50k, 2k,10k,2000,1.5M,750")
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{750, 2000, 10000, 50000, 1.5e6}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (sorted, repeats dropped)", got, want)
	}
	for _, bad := range []string{"", "0", "-5k", "abc", "1k,,2k", "NaN", "Infk", "5x"} {
		if r, err := ParseRates(bad); err == nil {
			t.Errorf("%q: got %v, want an error", bad, r)
		}
	}
}

// Automatic rates span 5% of the slowest capacity to 120% of the fastest,
// evenly on a log scale, the same list whatever order the models came in.
func TestAutoRates(t *testing.T) {
	rates := autoRates([]float64{40000, 20000, 0, 50000}, 8)
	if len(rates) != 8 {
		t.Fatalf("%d rates, want 8: %v", len(rates), rates)
	}
	if rates[0] != 1000 || rates[7] != 60000 {
		t.Errorf("span %v to %v, want 1000 (5%% of 20k) to 60000 (120%% of 50k)", rates[0], rates[7])
	}
	step := math.Log(rates[1] / rates[0])
	for i := 1; i < len(rates); i++ {
		if r := math.Log(rates[i]/rates[i-1]) / step; r < 0.9 || r > 1.1 {
			t.Errorf("rates %v are not evenly spaced on a log scale (step %d is %.2f of the first)", rates, i, r)
		}
	}
	if again := autoRates([]float64{50000, 40000, 20000}, 8); !slices.Equal(again, rates) {
		t.Errorf("order changed the rates: %v against %v", again, rates)
	}
	if r := autoRates([]float64{0, -1}, 8); r != nil {
		t.Errorf("no capacity gave %v, want nil", r)
	}
}

// The synthetic models keep up until their capacity and their p99 rises
// from 80% of it: the latency rule finds the knee before the throughput
// rule does for each, and the table and results.md show it.
func TestKnees(t *testing.T) {
	sums := Summarize(syntheticSweep())
	knees := Knees(sums)
	want := map[string]struct {
		rps  float64
		rule string
	}{
		// p99 = 200µs × (1 + 50(r - 0.8c)/c) passes 600µs at r > 0.84c.
		"epoll": {45000, RuleLatency},  // 0.9c; 35k is 0.7c
		"gnet":  {35000, RuleLatency},  // 0.875c
		"std":   {35000, RuleAchieved}, // beyond 30k both hold; the throughput rule is checked first
	}
	if len(knees) != 3 {
		t.Fatalf("%d knees, want 3: %+v", len(knees), knees)
	}
	for _, k := range knees {
		w := want[k.Model]
		if k.KneeRPS == nil || *k.KneeRPS != w.rps || k.Rule != w.rule || k.Conns != 100 || k.Pipeline != 1 {
			t.Errorf("%s: knee %v by %q, want %v by %q", k.Model, k.KneeRPS, k.Rule, w.rps, w.rule)
		}
		if k.BaseP99us == nil || *k.BaseP99us != 200 {
			t.Errorf("%s: base p99 %v, want 200µs", k.Model, k.BaseP99us)
		}
	}
	var b strings.Builder
	if err := WriteSweepTable(&b, sums, knees); err != nil {
		t.Fatal(err)
	}
	marked := 0
	for l := range strings.Lines(b.String()) {
		if strings.Contains(l, "<-knee") {
			marked++
			if f := strings.Fields(l); !(f[0] == "epoll" && f[3] == "45.0k" || f[0] != "epoll" && f[3] == "35.0k") {
				t.Errorf("knee marked on the wrong row: %s", l)
			}
		}
	}
	if marked != 3 || !strings.Contains(b.String(), KneeRules) {
		t.Errorf("%d rows marked, want 3, and the rules stated:\n%s", marked, b.String())
	}
}

// Neither rule holding gives no knee; a client-bound rate is skipped, and
// the lowest rate the server alone answered is the latency rule's base.
func TestKneeRules(t *testing.T) {
	curve := func(points ...[3]float64) []Summary {
		var out []Summary
		for _, p := range points {
			one := func(v float64) Stat { return Stat{Median: v, Min: v, Max: v, N: 1} }
			out = append(out, Summary{Model: "m", Conns: 1, Pipeline: 1, Mode: ModeOpen, Offered: p[0], Runs: 1, RPS: one(p[1]), P99us: one(p[2])})
		}
		return out
	}
	if k := knee(curve([3]float64{1000, 1000, 100}, [3]float64{2000, 1990, 290})); k.KneeRPS != nil || k.Rule != RuleNone {
		t.Errorf("no rule held, got %v %q", k.KneeRPS, k.Rule)
	}
	// 97% exactly is not below 97%.
	if k := knee(curve([3]float64{1000, 970, 100})); k.KneeRPS != nil {
		t.Errorf("97%% achieved is not a knee, got %v", *k.KneeRPS)
	}
	c := curve([3]float64{1000, 1000, 5000}, [3]float64{2000, 2000, 100}, [3]float64{4000, 4000, 301})
	c[0].ClientBound = 1
	k := knee(c)
	if k.KneeRPS == nil || *k.KneeRPS != 4000 || k.Rule != RuleLatency || *k.BaseP99us != 100 {
		t.Errorf("client-bound first rate: got %+v, want the knee at 4000 from a base of 100µs", k)
	}
	// Summaries given out of order are sorted by rate.
	k = knee(curve([3]float64{4000, 3000, 100}, [3]float64{1000, 1000, 100}))
	if k.KneeRPS == nil || *k.KneeRPS != 4000 || k.Rule != RuleAchieved {
		t.Errorf("unsorted curve: got %+v", k)
	}
}

// Ratios are taken within each run and then summarized; a run with a
// client-bound row is left out.
func TestRatios(t *testing.T) {
	rows := syntheticSweep()
	for i := range rows {
		r := &rows[i]
		if *r.OfferedRPS == 1000 && r.Run == 3 && r.Model == "gnet" {
			r.ClientBound = true
		}
		if *r.OfferedRPS == 1000 && r.Model == "epoll" {
			r.CPUusPerReq = ptr(float64(90 + r.Run))
		}
		if *r.OfferedRPS == 1000 && r.Model == "gnet" {
			r.CPUusPerReq = ptr(100.0)
		}
	}
	var found bool
	for _, ra := range Ratios(rows) {
		if ra.OfferedRPS == nil || *ra.OfferedRPS != 1000 || ra.Num != "epoll" || ra.Den != "gnet" {
			continue
		}
		found = true
		if len(ra.Runs) != 2 || ra.Dropped != 1 || *ra.Min != 0.91 || *ra.Max != 0.92 || math.Abs(*ra.Median-0.915) > 1e-9 {
			t.Errorf("epoll/gnet at 1000/s: %+v", ra)
		}
		if s := ra.String(); !strings.Contains(s, "0.915 [0.910-0.920] over 2 run(s), 1 client-bound") {
			t.Errorf("ratio line %q", s)
		}
	}
	if !found {
		t.Fatal("no epoll/gnet ratio at 1000/s")
	}
}

// judgeClient marks the rows where the client, not the server, was the
// limit, and only those.
func TestJudgeClient(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cli, srv     *float64
		lag, p99     *float64
		held         int
		bound        bool
		note         string
		cwait, swait *float64
	}{
		{"client saturated, server not", ptr(0.95), ptr(0.6), nil, ptr(500.0), 100, true, "kept 95% of its CPUs busy", nil, nil},
		{"both saturated", ptr(0.95), ptr(0.97), nil, ptr(500.0), 100, false, "", nil, nil},
		{"server saturated", ptr(0.5), ptr(0.99), ptr(0.0), ptr(90000.0), 100, false, "", nil, nil},
		{"client late", ptr(0.4), ptr(0.3), ptr(30000.0), ptr(40000.0), 100, true, "sent late", nil, nil},
		{"late but small against p99", ptr(0.4), ptr(0.3), ptr(2000.0), ptr(90000.0), 100, false, "", nil, nil},
		{"late under a millisecond", ptr(0.4), ptr(0.3), ptr(900.0), ptr(1000.0), 100, false, "", nil, nil},
		{"connections lost", ptr(0.4), ptr(0.3), nil, ptr(500.0), 60, false, "held 60 of its 100", nil, nil},
		{"client starved", ptr(0.01), ptr(0.02), ptr(0.0), ptr(300000.0), 100, true, "waited for a CPU 99% of the window, the server's 1.0%", ptr(0.99), ptr(0.01)},
		{"both starved", ptr(0.3), ptr(0.3), nil, ptr(3000.0), 100, false, "the server's threads waited for a CPU 40%", ptr(0.5), ptr(0.4)},
		{"client waits a little", ptr(0.3), ptr(0.3), nil, ptr(3000.0), 100, false, "", ptr(0.2), ptr(0.0)},
		{"server starved", ptr(0.3), ptr(0.3), nil, ptr(3000.0), 100, false, "the server's threads waited for a CPU 80%", ptr(0.1), ptr(0.8)},
	} {
		r := Row{Conns: 100, ClientCPUUtil: tc.cli, ServerCPUUtil: tc.srv, SendLagP99us: tc.lag, P99us: tc.p99, ConnsHeld: ptr(tc.held), ClientWait: tc.cwait, ServerWait: tc.swait}
		r.judgeClient()
		notes := strings.Join(r.Notes, "; ")
		if r.ClientBound != tc.bound || tc.note != "" && !strings.Contains(notes, tc.note) || tc.note == "" && notes != "" {
			t.Errorf("%s: client_bound %v, notes %q; want %v with %q", tc.name, r.ClientBound, notes, tc.bound, tc.note)
		}
	}
}

package load

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// near reports whether got is within the histogram's precision (3
// significant figures, so 0.1%, plus one microsecond of rounding) of want.
func near(got time.Duration, wantUs float64) bool {
	g := float64(got) / float64(time.Microsecond)
	return math.Abs(g-wantUs) <= wantUs*0.001+1
}

// resultOf records values (µs) into a Result as the loops would.
func resultOf(values []int64) *Result {
	r := &Result{Latency: newHistogram()}
	for _, v := range values {
		r.Latency.RecordValue(v)
	}
	r.Requests = int64(len(values))
	return r
}

// exact is the q-quantile of values by rank, as HDR histograms define it:
// the smallest value at or below which a fraction q of the values lie.
func exact(values []int64, q float64) float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return float64(s[max(i, 0)])
}

func TestQuantilesUniform(t *testing.T) {
	values := make([]int64, 100000)
	for i := range values {
		values[i] = int64(i + 1)
	}
	r := resultOf(values)
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 50000}, {0.9, 90000}, {0.99, 99000}, {0.999, 99900}, {1, 100000}} {
		if got := r.Quantile(c.q); !near(got, c.want) {
			t.Errorf("p%v = %v, want %vµs", c.q*100, got, c.want)
		}
	}
	if got := r.Max(); !near(got, 100000) {
		t.Errorf("max %v, want 100ms", got)
	}
}

func TestQuantilesBimodal(t *testing.T) {
	// 990 fast responses and 10 slow ones: p99 is still fast, p99.9 slow.
	var values []int64
	for range 990 {
		values = append(values, 100)
	}
	for range 10 {
		values = append(values, 5000)
	}
	r := resultOf(values)
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 100}, {0.99, 100}, {0.995, 5000}, {0.999, 5000}} {
		if got := r.Quantile(c.q); !near(got, c.want) {
			t.Errorf("p%v = %v, want %vµs", c.q*100, got, c.want)
		}
	}
}

func TestQuantilesExponential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]int64, 200000)
	for i := range values {
		values[i] = 1 + int64(rng.ExpFloat64()*1000)
	}
	r := resultOf(values)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		if got, want := r.Quantile(q), exact(values, q); !near(got, want) {
			t.Errorf("p%v = %v, want %vµs (exact rank)", q*100, got, want)
		}
	}
	if got, want := r.Max(), exact(values, 1); !near(got, want) {
		t.Errorf("max %v, want %vµs", got, want)
	}
}

// TestMerge checks that loops' histograms and counts add up.
func TestMerge(t *testing.T) {
	r := &Result{Latency: newHistogram()}
	for i := range 3 {
		l := &loop{hist: newHistogram()}
		for v := range 1000 {
			l.hist.RecordValue(int64(i*1000 + v + 1))
		}
		l.stats = stats{requests: 1000, connectErrors: 1, resets: 2, timeouts: 3, mismatches: 4, closed: 5}
		r.add(l)
	}
	if r.Requests != 3000 || r.Latency.TotalCount() != 3000 {
		t.Errorf("requests %d, histogram %d, want 3000", r.Requests, r.Latency.TotalCount())
	}
	if r.Errors != 3*15 || r.Resets != 6 || r.Closed != 15 {
		t.Errorf("errors %d resets %d closed %d", r.Errors, r.Resets, r.Closed)
	}
	if got := r.Quantile(0.5); !near(got, 1500) {
		t.Errorf("merged p50 %v, want 1.5ms", got)
	}
}

func TestSummaryFields(t *testing.T) {
	r := resultOf([]int64{10, 20, 30})
	r.Elapsed, r.RPS = time.Second, 3
	b, err := json.Marshal(r.JSON())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"requests", "rps", "errors", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
		"connect_errors", "resets", "timeouts", "mismatches", "closed", "duration_s", "conns", "pipeline", "rate"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %s missing from %s", k, b)
		}
	}
	if m["p50_us"] != 20.0 || m["max_us"] != 30.0 || m["requests"] != 3.0 {
		t.Errorf("figures wrong in %s", b)
	}
	// An empty result has zero quantiles rather than failing.
	empty := (&Result{}).JSON()
	if empty.P99us != 0 || empty.MaxUs != 0 {
		t.Errorf("empty result: %+v", empty)
	}
}

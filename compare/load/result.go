package load

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what a run measured over its window.
type Result struct {
	Requests int64 // responses received whole and correct in the window
	Errors   int64 // ConnectErrors + Resets + Timeouts + Mismatches + Closed

	// Failures by kind, each one a connection that was then closed and,
	// after a short back-off, reopened.
	ConnectErrors int64 // socket or connect failed, or the connect took longer than the timeout
	Resets        int64 // reset by the server (ECONNRESET, EPIPE) or another error on a connected socket
	Timeouts      int64 // the oldest request in flight got no complete response within the timeout
	Mismatches    int64 // bytes that differ from the expected response, or that nobody asked for
	Closed        int64 // the server closed the connection (EOF)

	Elapsed time.Duration           // length of the window actually measured
	RPS     float64                 // Requests / Elapsed
	Latency *hdrhistogram.Histogram // microseconds, merged across connections

	// Open loop only (nil in closed loop, where both equal Latency's
	// measure): Service is each response's time from its actual send, in
	// microseconds; SendLag is how late each request left against its
	// intended send time, counting only delay the client added (not
	// waiting for room in a full pipeline), in microseconds.
	Service *hdrhistogram.Histogram
	SendLag *hdrhistogram.Histogram

	// Held is how many connections were open when the run ended.
	Held int

	// The settings the run used, after defaults.
	Conns    int
	Pipeline int
	Rate     float64
	Threads  int
}

func newResult(cfg Config) *Result {
	r := &Result{Latency: newHistogram(), Conns: cfg.Conns, Pipeline: cfg.Pipeline, Rate: cfg.Rate, Threads: cfg.Threads}
	if cfg.Rate > 0 {
		r.Service, r.SendLag = newHistogram(), newHistogram()
	}
	return r
}

// Quantile is the latency below which the fraction q (0..1) of the
// responses fell: 0.99 is p99. Zero when nothing was recorded.
func (r *Result) Quantile(q float64) time.Duration { return Quantile(r.Latency, q) }

// Max is the highest latency recorded (to the histogram's precision).
func (r *Result) Max() time.Duration { return Max(r.Latency) }

// Quantile is the value of h (microseconds) below which the fraction q
// (0..1) of its values fell. Zero when h is nil or empty.
func Quantile(h *hdrhistogram.Histogram, q float64) time.Duration {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	// The library's ValueAtQuantile takes a percentile (0..100).
	return time.Duration(h.ValueAtQuantile(q*100)) * time.Microsecond
}

// Max is the highest value of h (microseconds), zero when h is nil or
// empty.
func Max(h *hdrhistogram.Histogram) time.Duration {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.Max()) * time.Microsecond
}

// Summary is the -json object: one run's figures, latencies in µs.
type Summary struct {
	Requests      int64   `json:"requests"`
	RPS           float64 `json:"rps"`
	Errors        int64   `json:"errors"`
	P50us         float64 `json:"p50_us"`
	P90us         float64 `json:"p90_us"`
	P99us         float64 `json:"p99_us"`
	P999us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`
	MeanUs        float64 `json:"mean_us"`
	ConnectErrors int64   `json:"connect_errors"`
	Resets        int64   `json:"resets"`
	Timeouts      int64   `json:"timeouts"`
	Mismatches    int64   `json:"mismatches"`
	Closed        int64   `json:"closed"`
	DurationS     float64 `json:"duration_s"`
	Conns         int     `json:"conns"`
	Pipeline      int     `json:"pipeline"`
	Rate          float64 `json:"rate"`
	Threads       int     `json:"threads"`
	ConnsHeld     int     `json:"conns_held"`

	// With a rate: service times from each actual send, and the p99 of
	// how late the client sent.
	P50ServiceUs  *float64 `json:"p50_service_us,omitempty"`
	P90ServiceUs  *float64 `json:"p90_service_us,omitempty"`
	P99ServiceUs  *float64 `json:"p99_service_us,omitempty"`
	P999ServiceUs *float64 `json:"p999_service_us,omitempty"`
	MaxServiceUs  *float64 `json:"max_service_us,omitempty"`
	P99SendLagUs  *float64 `json:"p99_send_lag_us,omitempty"`
}

// JSON is the run's summary in the shape of the -json output.
func (r *Result) JSON() Summary {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	s := Summary{
		Requests:      r.Requests,
		RPS:           r.RPS,
		Errors:        r.Errors,
		P50us:         us(r.Quantile(0.50)),
		P90us:         us(r.Quantile(0.90)),
		P99us:         us(r.Quantile(0.99)),
		P999us:        us(r.Quantile(0.999)),
		MaxUs:         us(r.Max()),
		ConnectErrors: r.ConnectErrors,
		Resets:        r.Resets,
		Timeouts:      r.Timeouts,
		Mismatches:    r.Mismatches,
		Closed:        r.Closed,
		DurationS:     r.Elapsed.Seconds(),
		Conns:         r.Conns,
		Pipeline:      r.Pipeline,
		Rate:          r.Rate,
		Threads:       r.Threads,
		ConnsHeld:     r.Held,
	}
	if r.Latency != nil && r.Latency.TotalCount() > 0 {
		s.MeanUs = r.Latency.Mean()
	}
	if r.Service != nil {
		p := func(v float64) *float64 { return &v }
		s.P50ServiceUs = p(us(Quantile(r.Service, 0.50)))
		s.P90ServiceUs = p(us(Quantile(r.Service, 0.90)))
		s.P99ServiceUs = p(us(Quantile(r.Service, 0.99)))
		s.P999ServiceUs = p(us(Quantile(r.Service, 0.999)))
		s.MaxServiceUs = p(us(Max(r.Service)))
		s.P99SendLagUs = p(us(Quantile(r.SendLag, 0.99)))
	}
	return s
}

// add merges one loop's figures, its open-loop account included, into r.
func (r *Result) add(l *loop) {
	r.Requests += l.stats.requests
	r.ConnectErrors += l.stats.connectErrors
	r.Resets += l.stats.resets
	r.Timeouts += l.stats.timeouts
	r.Mismatches += l.stats.mismatches
	r.Closed += l.stats.closed
	r.Errors = r.ConnectErrors + r.Resets + r.Timeouts + r.Mismatches + r.Closed
	r.Latency.Merge(l.hist)
	if l.acct != nil && r.Service != nil {
		r.Service.Merge(l.acct.service)
		r.SendLag.Merge(l.acct.lag)
	}
	for i := range l.conns {
		if l.conns[i].state == connOpen {
			r.Held++
		}
	}
}

package compare

import (
	"fmt"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/readinesslab/readiness/compare/load"
	"github.com/readinesslab/readiness/compare/wrk"
	"github.com/readinesslab/readiness/internal/host"
)

// Results is what results.json holds.
type Results struct {
	Machine     Machine          `json:"machine"`
	Environment host.Environment `json:"environment"`
	Knees       []Knee           `json:"knees"`
	Ratios      []Ratio          `json:"ratios"`
	Rows        []Row            `json:"rows"`
}

// The modes of a row.
const (
	ModeClosed = "closed" // each connection keeps its pipeline full: the client's pace
	ModeOpen   = "open"   // requests sent on a fixed schedule at the offered rate
)

// Row is one cell of one run: a model at one connection count and
// pipeline depth. Pointer fields are null in JSON when the figure could
// not be measured, and Notes says why.
type Row struct {
	Model    string `json:"model"`
	Conns    int    `json:"conns"`
	Pipeline int    `json:"pipeline"`
	Run      int    `json:"run"`
	Client   string `json:"client"`
	Net      string `json:"net"`
	// Server is the server's startup line: the model and every setting it
	// ran with, so a variant's flags can be seen to have taken effect.
	Server string `json:"server"`

	Mode       string   `json:"mode"`
	OfferedRPS *float64 `json:"offered_rps"` // null in closed loop

	Requests int64    `json:"requests"`
	RPS      *float64 `json:"rps"`
	Errors   int64    `json:"errors"`

	// Latency in microseconds.
	P50us  *float64 `json:"p50_us"`
	P90us  *float64 `json:"p90_us"`
	P99us  *float64 `json:"p99_us"`
	P999us *float64 `json:"p999_us"`
	MaxUs  *float64 `json:"max_us"`

	// Open loop: latency from each request's actual send (the latencies
	// above count from its intended send time). Null in closed loop.
	P50ServiceUs  *float64 `json:"p50_service_us"`
	P90ServiceUs  *float64 `json:"p90_service_us"`
	P99ServiceUs  *float64 `json:"p99_service_us"`
	P999ServiceUs *float64 `json:"p999_service_us"`
	MaxServiceUs  *float64 `json:"max_service_us"`

	// The share of their CPUs that server and client kept busy over the
	// window, 0-1.
	ServerCPUUtil *float64 `json:"server_cpu_util"`
	ClientCPUUtil *float64 `json:"client_cpu_util"`
	// The client's health: p99 of how late it sent against the schedule
	// (open loop, built-in client), and the connections it held at the
	// end (built-in client).
	SendLagP99us *float64 `json:"send_lag_p99_us"`
	ConnsHeld    *int     `json:"conns_held"`
	// The share of their CPUs' time that the server's and the client's
	// threads spent runnable but waiting for a CPU (schedstat's run
	// delay), 0-1 and more when several threads wait at once.
	ServerWait *float64 `json:"server_wait"`
	ClientWait *float64 `json:"client_wait"`
	// ClientBound is true when the load generator, not the server, was
	// the limit; Notes says why, and its ratios are not the server's.
	ClientBound bool `json:"client_bound"`

	// The server's CPU time per request, in microseconds.
	CPUusPerReq  *float64 `json:"cpu_us_per_req"`
	UserUsPerReq *float64 `json:"user_us_per_req"`
	SysUsPerReq  *float64 `json:"sys_us_per_req"`

	SyscallsPerReq *float64 `json:"syscalls_per_req"`
	CtxswPerReq    *float64 `json:"ctxsw_per_req"`

	// The server's Go heap over the window: objects and bytes allocated
	// per request, and garbage collections completed.
	AllocsPerReq     *float64 `json:"allocs_per_req"`
	AllocBytesPerReq *float64 `json:"alloc_bytes_per_req"`
	GCCount          *int64   `json:"gc_count"`

	RSSBytes     *int64 `json:"rss_bytes"`
	PeakRSSBytes *int64 `json:"peak_rss_bytes"`
	Threads      *int   `json:"threads"`

	// The raw counts behind the per-request figures, over the window.
	WindowS     *float64 `json:"window_s"`
	CPUTicks    *int64   `json:"cpu_ticks"`
	Syscalls    *int64   `json:"syscalls"`
	Voluntary   *int64   `json:"voluntary_ctxsw"`
	Involuntary *int64   `json:"involuntary_ctxsw"`

	Notes []string `json:"notes"`

	broken bool // the cell could not be measured; Notes says why

	// The histograms behind the latencies (microseconds), kept for the
	// HDR logs, and when the window began.
	latency, service *hdrhistogram.Histogram
	began            time.Time
	gomaxprocs       int // the server's, 0 when unknown
}

// failed reports whether the cell could not be measured.
func (r *Row) failed() bool { return r.broken }

// fail marks the cell as not measured, for the reason err.
func (r *Row) fail(err error) {
	r.broken = true
	r.note("not measured: %v", err)
}

func (r *Row) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func ptr[T any](v T) *T { return &v }

func micros(d time.Duration) *float64 { return ptr(float64(d) / float64(time.Microsecond)) }

// fromLoad fills the client's figures from the built-in generator.
func (r *Row) fromLoad(res *load.Result) {
	r.Requests = res.Requests
	r.Errors = res.Errors
	r.ConnsHeld = ptr(res.Held)
	if res.SendLag != nil && res.SendLag.TotalCount() > 0 {
		r.SendLagP99us = micros(load.Quantile(res.SendLag, 0.99))
	}
	if res.Elapsed > 0 {
		r.RPS = ptr(res.RPS)
	}
	if res.Errors > 0 {
		var kinds []string
		for _, k := range []struct {
			n    int64
			name string
		}{{res.ConnectErrors, "connect errors"}, {res.Resets, "resets"}, {res.Timeouts, "timeouts"}, {res.Mismatches, "wrong responses"}, {res.Closed, "closed by the server"}} {
			if k.n > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", k.n, k.name))
			}
		}
		r.note("errors: %s", strings.Join(kinds, ", "))
	}
	if res.Requests == 0 {
		r.note("latency is null: no response completed in the window")
		return
	}
	r.P50us = micros(res.Quantile(0.50))
	r.P90us = micros(res.Quantile(0.90))
	r.P99us = micros(res.Quantile(0.99))
	r.P999us = micros(res.Quantile(0.999))
	r.MaxUs = micros(res.Max())
	r.latency = res.Latency
	if res.Service != nil {
		r.service = res.Service
		r.P50ServiceUs = micros(load.Quantile(res.Service, 0.50))
		r.P90ServiceUs = micros(load.Quantile(res.Service, 0.90))
		r.P99ServiceUs = micros(load.Quantile(res.Service, 0.99))
		r.P999ServiceUs = micros(load.Quantile(res.Service, 0.999))
		r.MaxServiceUs = micros(load.Max(res.Service))
	}
}

// fromWrk fills the client's figures from wrk's report.
func (r *Row) fromWrk(res *wrk.Result) {
	r.Requests = res.Requests
	r.Errors = res.Errors()
	r.RPS = ptr(res.RPS)
	if r.Errors > 0 {
		r.note("errors (wrk): connect %d, read %d, write %d, timeout %d, non-2xx %d", res.Connect, res.Read, res.Write, res.Timeout, res.Non2xx)
	}
	if res.Requests == 0 {
		r.note("latency is null: wrk completed no request")
		return
	}
	r.P50us, r.MaxUs = micros(res.P50), micros(res.Max)
	// wrk's table sometimes prints 0.00us for a high percentile, below
	// its own median (seen with pipelined scripts): its percentile walk
	// returns 0 when its sample count runs past the samples it holds.
	// Such a figure is no measurement.
	pct := func(name string, d time.Duration, have bool) *float64 {
		switch {
		case !have:
			r.note("%s is null: wrk's --latency table stops at p99 and its done() hook printed nothing", name)
			return nil
		case d < res.P50 || d == 0:
			r.note("%s is null: wrk reported %v, below its own p50 of %v", name, d, res.P50)
			return nil
		}
		return micros(d)
	}
	r.P90us = pct("p90_us", res.P90, true)
	r.P99us = pct("p99_us", res.P99, true)
	r.P999us = pct("p999_us", res.P999, res.HasP999)
}

// fromUsage fills the server's figures, per request.
func (r *Row) fromUsage(u Usage, hz uint64) {
	r.Notes = append(r.Notes, u.Notes...)
	r.gomaxprocs = u.GOMAXPROCS
	r.WindowS = ptr(u.Elapsed.Seconds())
	ticks := int64(u.UserTicks + u.SystemTicks)
	r.CPUTicks = ptr(ticks)
	r.Voluntary, r.Involuntary = ptr(int64(u.Voluntary)), ptr(int64(u.Involuntary))
	r.RSSBytes, r.PeakRSSBytes, r.Threads = ptr(int64(u.RSS)), ptr(int64(u.PeakRSS)), ptr(u.Threads)
	if u.Syscalls != nil {
		r.Syscalls = ptr(int64(*u.Syscalls))
	}
	if u.Heap != nil {
		r.GCCount = ptr(int64(u.Heap.NumGC))
	}
	if r.Requests == 0 {
		r.note("per-request figures are null: no request completed in the window")
		return
	}
	n := float64(r.Requests)
	tickUs := 1e6 / float64(hz)
	r.UserUsPerReq = ptr(float64(u.UserTicks) * tickUs / n)
	r.SysUsPerReq = ptr(float64(u.SystemTicks) * tickUs / n)
	r.CPUusPerReq = ptr(float64(ticks) * tickUs / n)
	if u.Sched != nil {
		// The scheduler's count is exact to the nanosecond where ticks
		// round to 10 ms; the ticks still give the split between user
		// and system, applied to it.
		total := float64(u.Sched.onCPU) / float64(time.Microsecond) / n
		r.CPUusPerReq = ptr(total)
		if ticks > 0 {
			r.UserUsPerReq = ptr(total * float64(u.UserTicks) / float64(ticks))
			r.SysUsPerReq = ptr(total * float64(u.SystemTicks) / float64(ticks))
		} else {
			r.UserUsPerReq, r.SysUsPerReq = nil, nil
			r.note("user_us_per_req and sys_us_per_req are null: the window held no clock tick of CPU time to split it by")
		}
	}
	r.CtxswPerReq = ptr(float64(u.Voluntary+u.Involuntary) / n)
	if u.Syscalls != nil {
		r.SyscallsPerReq = ptr(float64(*u.Syscalls) / n)
	}
	if u.Heap != nil {
		r.AllocsPerReq = ptr(float64(u.Heap.Mallocs) / n)
		r.AllocBytesPerReq = ptr(float64(u.Heap.TotalAlloc) / n)
	}
	switch {
	case ticks >= minTicks:
	case u.Sched != nil:
		r.note("CPU time held fewer than %d clock ticks of %.0f ms (cpu_ticks has the count): the total is schedstat's, exact, but its split into user and system can be off by more than ±%.0f%%; use a longer -duration", minTicks, tickUs/1000, 200.0/minTicks)
	default:
		r.note("CPU time held fewer than %d clock ticks of %.0f ms (cpu_ticks has the count), so rounding can move CPU per request by more than ±%.0f%%; use a longer -duration", minTicks, tickUs/1000, 200.0/minTicks)
	}
}

// minTicks is the CPU time below which a note warns about tick rounding:
// utime and stime each round down to a tick, so the window's difference
// can be off by up to two ticks.
const minTicks = 40

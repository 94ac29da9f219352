package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is what a soak run found.
type Report struct {
	Settings    Settings
	Ran         time.Duration // how long the clients ran
	Interrupted bool          // the run was cut short
	ClientCPU   time.Duration // CPU time of the soaking process (all clients) over the run
	Servers     []ServerReport
	Pass        bool // no server failed
}

// Settings is the run's configuration, as reports quote it.
type Settings struct {
	Duration, Interval, Settle time.Duration
	Conns, Pipeline            int
	Rate, Ops                  float64
	Churn, Idle                int
	ChurnEvery                 time.Duration
	IdleTimeout, HeaderTimeout time.Duration
	Limits                     Limits
}

func (c Config) settings() Settings {
	return Settings{
		Duration: c.Duration, Interval: c.Interval, Settle: c.Settle,
		Conns: c.Conns, Pipeline: c.Pipeline, Rate: c.Rate, Ops: c.Ops,
		Churn: c.Churn, Idle: c.Idle, ChurnEvery: c.ChurnEvery,
		IdleTimeout: c.IdleTimeout, HeaderTimeout: c.HeaderTimeout, Limits: c.Limits,
	}
}

// ServerReport is one server's part of a Report.
type ServerReport struct {
	Name            string
	GoodRequests    int64 // answered whole and byte for byte right
	GoodErrors      int64
	Hostile         [numKinds]int64 // operations by kind
	HostileFailures int64
	Messages        []string      // the first failure messages
	Curve           Curve         // fds and RSS over the run
	CPU             time.Duration // the server's CPU time while the clients ran
	Failures        []string      // why it failed; empty when it passed
	Pass            bool
}

// HostileTotal is the number of hostile operations of all kinds.
func (r ServerReport) HostileTotal() int64 {
	var n int64
	for _, v := range r.Hostile {
		n += v
	}
	return n
}

// report closes s's part of the run and applies the limits.
func (s *server) report(l Limits) ServerReport {
	r := ServerReport{
		Name:            s.Name,
		GoodRequests:    s.tally.goodRequests.Load(),
		GoodErrors:      s.tally.goodErrors.Load(),
		HostileFailures: s.tally.hostileFails.Load(),
		Messages:        s.tally.notes(),
		Curve:           s.curve,
		CPU:             s.last.cpu - s.base.cpu,
	}
	for k := range r.Hostile {
		r.Hostile[k] = s.tally.hostile[k].Load()
	}
	if s.gone != nil {
		r.Failures = append(r.Failures, fmt.Sprintf("the server process is gone: %v", s.gone))
	}
	if r.GoodErrors > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d well-behaved exchanges failed", r.GoodErrors))
	}
	if r.HostileFailures > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d hostile clients did not get what the contract promises", r.HostileFailures))
	}
	if s.gone == nil {
		r.Failures = append(r.Failures, l.Leaks(s.curve)...)
	}
	r.Pass = len(r.Failures) == 0
	return r
}

// AddFailure fails the named server for a reason found after the run (its
// shutdown, say).
func (r *Report) AddFailure(name, reason string) {
	for i := range r.Servers {
		if r.Servers[i].Name == name {
			r.Servers[i].Failures = append(r.Servers[i].Failures, reason)
			r.Servers[i].Pass = false
			r.Pass = false
			return
		}
	}
}

// writeProgress is the line written after each reading.
func writeProgress(w io.Writer, at time.Duration, st Settings, servers []*server) {
	var b strings.Builder
	fmt.Fprintf(&b, "soak %7s", roundFor(at, st.Interval))
	for _, s := range servers {
		fmt.Fprintf(&b, " | %s good %d err %d hostile %d fail %d", s.Name,
			s.tally.goodRequests.Load(), s.tally.goodErrors.Load(), s.tally.hostileTotal(), s.tally.hostileFails.Load())
		if s.gone != nil {
			b.WriteString(" GONE")
			continue
		}
		fmt.Fprintf(&b, " fds %d rss %s", s.last.FDs, mib(s.last.RSS))
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// WriteText writes the report as the final table and its verdict.
func (r *Report) WriteText(w io.Writer) {
	st := r.Settings
	names := make([]string, len(r.Servers))
	for i, s := range r.Servers {
		names[i] = s.Name
	}
	fmt.Fprintf(w, "soak of %s for %v", strings.Join(names, ", "), roundFor(r.Ran, st.Interval))
	if r.Interrupted {
		fmt.Fprintf(w, " (interrupted; %v asked)", st.Duration)
	}
	fmt.Fprintf(w, "\nper server: %d good connections, pipeline %d, %g req/s; hostile: %g ops/s per paced kind, churn of %d every %v, %d idle\n",
		st.Conns, st.Pipeline, st.Rate, st.Ops, st.Churn, st.ChurnEvery, st.Idle)
	fmt.Fprintf(w, "server timeouts: idle %s, header %s; readings every %v\n\n", timeout(st.IdleTimeout), timeout(st.HeaderTimeout), st.Interval)

	fmt.Fprintf(w, "%-8s %10s %9s %11s %12s %16s %26s %8s %7s  %s\n",
		"server", "good_reqs", "good_errs", "hostile_ops", "hostile_fails", "fds base/max/end", "rss MiB base/q2/q4/max", "threads", "cpu_s", "verdict")
	for _, s := range r.Servers {
		c := s.Curve
		fdMax, rssMax, thrMax := c.Baseline.FDs, c.Baseline.RSS, c.Baseline.Threads
		for _, x := range c.Load {
			fdMax, rssMax, thrMax = max(fdMax, x.FDs), max(rssMax, x.RSS), max(thrMax, x.Threads)
		}
		q2, q4 := "-", "-"
		if early, late, ok := c.RSSTrend(); ok {
			q2, q4 = mibN(early), mibN(late)
		}
		verdict := "ok"
		if !s.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%-8s %10d %9d %11d %12d %16s %26s %8d %7.1f  %s\n",
			s.Name, s.GoodRequests, s.GoodErrors, s.HostileTotal(), s.HostileFailures,
			fmt.Sprintf("%d/%d/%d", c.Baseline.FDs, fdMax, c.Settled.FDs),
			fmt.Sprintf("%s/%s/%s/%s", mibN(c.Baseline.RSS), q2, q4, mibN(rssMax)),
			thrMax, s.CPU.Seconds(), verdict)
	}

	fmt.Fprintf(w, "\nhostile operations by kind\n%-8s", "server")
	for _, n := range kindNames {
		fmt.Fprintf(w, " %8s", n)
	}
	fmt.Fprintln(w)
	for _, s := range r.Servers {
		fmt.Fprintf(w, "%-8s", s.Name)
		for _, v := range s.Hostile {
			fmt.Fprintf(w, " %8d", v)
		}
		fmt.Fprintln(w)
	}

	r.writeCurves(w)

	var serverCPU time.Duration
	for _, s := range r.Servers {
		serverCPU += s.CPU
	}
	if secs := r.Ran.Seconds(); secs > 0 {
		fmt.Fprintf(w, "\nCPU over the run: clients %.1f s, servers %.1f s: %.0f%% of one CPU in all\n",
			r.ClientCPU.Seconds(), serverCPU.Seconds(), 100*(r.ClientCPU+serverCPU).Seconds()/secs)
	}

	fmt.Fprintln(w)
	for _, s := range r.Servers {
		for _, f := range s.Failures {
			fmt.Fprintf(w, "%s: %s\n", s.Name, f)
		}
		for _, m := range s.Messages {
			fmt.Fprintf(w, "%s:   %s\n", s.Name, m)
		}
	}
	if r.Pass {
		fmt.Fprintln(w, "PASS: no well-behaved client failed, every hostile client got what the contract promises, fds back to baseline, RSS flat")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

// writeCurves writes the fd and RSS curves: the baseline, about ten load
// readings spread over the run (every minute of a 10-minute run), and the
// reading after the clients left.
func (r *Report) writeCurves(w io.Writer) {
	if len(r.Servers) == 0 {
		return
	}
	step := 1
	if iv := r.Settings.Interval; iv > 0 {
		step = max(1, int((r.Settings.Duration/10+iv/2)/iv))
	}
	fmt.Fprintf(w, "\nfds and RSS (MiB) over time\n%-9s", "t")
	for _, s := range r.Servers {
		fmt.Fprintf(w, " %14s", s.Name+" fds/rss")
	}
	fmt.Fprintln(w)
	row := func(label string, pick func(Curve) (Sample, bool)) {
		fmt.Fprintf(w, "%-9s", label)
		for _, s := range r.Servers {
			x, ok := pick(s.Curve)
			cell := "-"
			if ok {
				cell = fmt.Sprintf("%d/%s", x.FDs, mibN(x.RSS))
			}
			fmt.Fprintf(w, " %14s", cell)
		}
		fmt.Fprintln(w)
	}
	row("base", func(c Curve) (Sample, bool) { return c.Baseline, true })
	longest := 0
	for _, s := range r.Servers {
		longest = max(longest, len(s.Curve.Load))
	}
	for i := step - 1; i < longest; i += step {
		label := ""
		for _, s := range r.Servers {
			if i < len(s.Curve.Load) {
				label = roundFor(s.Curve.Load[i].At, r.Settings.Interval).String()
				break
			}
		}
		row(label, func(c Curve) (Sample, bool) {
			if i < len(c.Load) {
				return c.Load[i], true
			}
			return Sample{}, false
		})
	}
	row("settled", func(c Curve) (Sample, bool) { return c.Settled, true })
}

// roundFor rounds d for display: to the second, or to 10 ms when readings
// come more often than every second.
func roundFor(d, interval time.Duration) time.Duration {
	if interval < time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func timeout(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return d.String()
}

func mibN(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// MarshalJSON is the -json form: durations in seconds, sizes in bytes.
func (r *Report) MarshalJSON() ([]byte, error) {
	type sample struct {
		T       float64 `json:"t_s"`
		FDs     int     `json:"fds"`
		RSS     int64   `json:"rss_bytes"`
		Threads int     `json:"threads"`
	}
	conv := func(s Sample) sample { return sample{s.At.Seconds(), s.FDs, s.RSS, s.Threads} }
	type srv struct {
		Name            string           `json:"model"`
		GoodRequests    int64            `json:"good_requests"`
		GoodErrors      int64            `json:"good_errors"`
		HostileOps      int64            `json:"hostile_ops"`
		HostileByKind   map[string]int64 `json:"hostile_by_kind"`
		HostileFailures int64            `json:"hostile_failures"`
		FDBaseline      int              `json:"fd_baseline"`
		FDEnd           int              `json:"fd_end"`
		RSSBaseline     int64            `json:"rss_baseline_bytes"`
		RSSQ2           *int64           `json:"rss_q2_median_bytes"`
		RSSQ4           *int64           `json:"rss_q4_median_bytes"`
		CPU             float64          `json:"cpu_s"`
		StoppedS        float64          `json:"clients_stopped_s"`
		Samples         []sample         `json:"samples"`
		Settled         sample           `json:"settled"`
		Failures        []string         `json:"failures"`
		Messages        []string         `json:"messages"`
		Pass            bool             `json:"pass"`
	}
	st := r.Settings
	out := struct {
		Settings map[string]any `json:"settings"`
		RanS     float64        `json:"ran_s"`
		Interr   bool           `json:"interrupted"`
		ClientS  float64        `json:"client_cpu_s"`
		Servers  []srv          `json:"servers"`
		Pass     bool           `json:"pass"`
	}{
		Settings: map[string]any{
			"duration_s": st.Duration.Seconds(), "interval_s": st.Interval.Seconds(), "settle_s": st.Settle.Seconds(),
			"conns": st.Conns, "pipeline": st.Pipeline, "rate": st.Rate, "ops": st.Ops,
			"churn": st.Churn, "churn_every_s": st.ChurnEvery.Seconds(), "idle": st.Idle,
			"idle_timeout_s": st.IdleTimeout.Seconds(), "header_timeout_s": st.HeaderTimeout.Seconds(),
			"fd_slack": st.Limits.FDSlack, "rss_growth_bytes": st.Limits.RSSGrowth, "rss_growth_frac": st.Limits.RSSGrowthFrac,
		},
		RanS: r.Ran.Seconds(), Interr: r.Interrupted, ClientS: r.ClientCPU.Seconds(), Pass: r.Pass,
	}
	for _, s := range r.Servers {
		o := srv{
			Name: s.Name, GoodRequests: s.GoodRequests, GoodErrors: s.GoodErrors,
			HostileOps: s.HostileTotal(), HostileByKind: map[string]int64{}, HostileFailures: s.HostileFailures,
			FDBaseline: s.Curve.Baseline.FDs, FDEnd: s.Curve.Settled.FDs, RSSBaseline: s.Curve.Baseline.RSS,
			CPU: s.CPU.Seconds(), StoppedS: s.Curve.Stopped.Seconds(), Settled: conv(s.Curve.Settled),
			Samples: []sample{}, Failures: append([]string{}, s.Failures...), Messages: append([]string{}, s.Messages...), Pass: s.Pass,
		}
		for k, v := range s.Hostile {
			o.HostileByKind[kindNames[k]] = v
		}
		if early, late, ok := s.Curve.RSSTrend(); ok {
			o.RSSQ2, o.RSSQ4 = &early, &late
		}
		for _, x := range s.Curve.Load {
			o.Samples = append(o.Samples, conv(x))
		}
		out.Servers = append(out.Servers, o)
	}
	return json.Marshal(out)
}

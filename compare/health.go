package compare

import (
	"time"

	"golang.org/x/sys/unix"
)

// The client-bound rules. A row is client-bound when any holds:
//   - the load generator kept at least clientBusy of its CPUs busy while
//     the server kept less than serverBusy of its own busy: the client
//     ran out of CPU first;
//   - the load generator's threads waited for a CPU (runnable, not
//     running: schedstat's run delay) at least clientWaiting of the
//     window per client CPU, and more than twice as long as the server's
//     did per server CPU: something else held the client's CPU, and the
//     client, not the server, was starved;
//   - open loop: the client's own p99 send lag (how late it sent, not
//     counting waits for room in a full pipeline) reached lagFloorUs and
//     lagShare of the corrected p99: the latency is mostly the client's
//     lateness, and the offered rate was not really offered.
const (
	clientBusy = 0.90
	serverBusy = 0.90
	lagFloorUs = 1000.0
	lagShare   = 1.0 / 3

	clientWaiting = 0.25
)

// ClientRules states the rules for the table's and results.md's readers.
const ClientRules = "A row is client-bound when the load generator kept at least 90% of its CPUs busy while the server kept less than 90% of its own busy; or when the load generator's threads waited for a CPU at least 25% of the window and more than twice as long as the server's did (run delay from schedstat, per CPU); or (open loop) when the client's p99 send lag reached 1 ms and a third of the corrected p99."

// judgeClient sets ClientBound, with a note saying why, and notes a
// server starved of its CPU and a client that held fewer connections
// than asked.
func (r *Row) judgeClient() {
	cu, su := r.ClientCPUUtil, r.ServerCPUUtil
	switch {
	case cu != nil && *cu >= clientBusy && (su == nil || *su < serverBusy):
		r.ClientBound = true
		server := "an unknown share"
		if su != nil {
			server = pct(*su)
		}
		r.note("client-bound: the load generator kept %s of its CPUs busy while the server kept %s of its own busy", pct(*cu), server)
	case r.ClientWait != nil && *r.ClientWait >= clientWaiting && (r.ServerWait == nil || *r.ClientWait > 2**r.ServerWait):
		r.ClientBound = true
		server := "an unknown share"
		if r.ServerWait != nil {
			server = pct(*r.ServerWait)
		}
		r.note("client-bound: the load generator's threads waited for a CPU %s of the window, the server's %s", pct(*r.ClientWait), server)
	case r.SendLagP99us != nil && r.P99us != nil && *r.SendLagP99us >= lagFloorUs && *r.SendLagP99us >= lagShare**r.P99us:
		r.ClientBound = true
		r.note("client-bound: the client itself sent late (p99 send lag %s against a corrected p99 of %s), so the rate was not offered as scheduled", latency(Stat{Median: *r.SendLagP99us, N: 1}), latency(Stat{Median: *r.P99us, N: 1}))
	}
	if r.ServerWait != nil && *r.ServerWait >= clientWaiting && !r.ClientBound {
		r.note("the server's threads waited for a CPU %s of the window: something else held the server's CPU, so the rate measured is partly the machine's limit, not the server's", pct(*r.ServerWait))
	}
	if r.ConnsHeld != nil && *r.ConnsHeld < r.Conns {
		r.note("the client held %d of its %d connections at the window's end", *r.ConnsHeld, r.Conns)
	}
}

// utilization is the share of ncpus that cpu kept busy over window.
func utilization(cpu, window time.Duration, ncpus int) *float64 {
	if window <= 0 || ncpus < 1 {
		return nil
	}
	return ptr(cpu.Seconds() / window.Seconds() / float64(ncpus))
}

// selfCPU is the user and system time this process (the built-in
// client) has used.
func selfCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func pct(v float64) string { return sig(100*v, 2) + "%" }

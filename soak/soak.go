// Package soak runs well-behaved and hostile clients together, for a long
// while, against servers that already run as their own processes, and tells
// whether the servers stayed correct and flat.
//
// Per server, the well-behaved clients are Conns keep-alive connections
// sending pipelined batches (GET, HEAD, POST with a body, HTTP/1.0
// keep-alive, now and then a closing request) at a fixed rate, checking
// every byte of every answer; one of them must never fail. Beside them run
// the hostile clients: connections reset (SO_LINGER 0) mid-head, mid-body
// and mid-pipeline; connections closed before reading their answers;
// invalid requests, each of which must get the contract's exact error
// bytes and a close; a slow-header client that must get 408; idle
// connections that must be closed after the idle timeout; a client that
// pipelines without reading until the server pushes back; and bursts of
// connections opened together and left together, after which a new client
// must be served.
//
// Every Interval each server process is read from /proc: descriptors
// (/proc/PID/fd), resident size and threads (/proc/PID/status). Limits
// says when those curves count as a leak. All load is paced (nothing runs
// as fast as it can), and every loop ends with the run.
package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/compare/load"
)

// Target is one server under soak: where it listens and which process
// serves it there.
type Target struct {
	Name string // for the report
	Addr string // HOST:PORT on loopback
	PID  int
}

// server is a target during the run.
type server struct {
	Target
	tally tally
	curve Curve
	base  reading
	last  reading
	gone  error // the process could not be read any more
}

// Run soaks the targets together for cfg.Duration and reports. Every
// target is first sent one well-behaved request (its first connection's
// one-time costs belong in the baseline); a target that does not answer it
// is an error, not a report. When ctx ends early the clients stop, the
// report covers what ran and says it was interrupted.
func Run(ctx context.Context, cfg Config, targets []Target) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, errors.New("no servers to soak")
	}
	servers := make([]*server, len(targets))
	for i, t := range targets {
		if _, err := load.ParseAddr(t.Addr); err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		servers[i] = &server{Target: t}
		if err := roundTrip(ctx, t.Addr); err != nil {
			return nil, fmt.Errorf("%s at %s: warm-up request: %w", t.Name, t.Addr, err)
		}
	}
	for _, s := range servers {
		r, err := baseline(s.PID, func() time.Duration { return 0 })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		s.base, s.last, s.curve.Baseline = r, r, r.Sample
	}

	cpu0 := selfCPU()
	start := time.Now()
	at := func() time.Duration { return time.Since(start) }
	// Cancelled by a timer rather than given a deadline: the dialer would
	// time a connect out at the deadline itself, a moment before ctx.Err
	// says the run is over, and the failed connect would count.
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(cfg.Duration, cancel)
	defer timer.Stop()
	var wg sync.WaitGroup
	for i, s := range servers {
		startClients(loadCtx, &wg, cfg, s, uint64(i))
	}
	sampleLoad(loadCtx, cfg, servers, at)
	wg.Wait()
	stopped := at()
	clientCPU := selfCPU() - cpu0

	for _, s := range servers {
		s.curve.Stopped = stopped
	}
	settle(cfg, servers, at)

	rep := &Report{
		Settings:    cfg.settings(),
		Ran:         stopped,
		Interrupted: ctx.Err() != nil,
		ClientCPU:   clientCPU,
		Pass:        true,
	}
	for _, s := range servers {
		sr := s.report(cfg.Limits)
		rep.Pass = rep.Pass && sr.Pass
		rep.Servers = append(rep.Servers, sr)
	}
	return rep, nil
}

// startClients starts the good and hostile clients of s; each ends with
// ctx.
func startClients(ctx context.Context, wg *sync.WaitGroup, cfg Config, s *server, seed uint64) {
	pace := cfg.batchEvery()
	for i := 0; i < cfg.Conns; i++ {
		g := &goodClient{
			addr:     s.Addr,
			tally:    &s.tally,
			pipeline: cfg.Pipeline,
			every:    pace,
			phase:    pace * time.Duration(i) / time.Duration(cfg.Conns),
			rng:      rand.New(rand.NewPCG(seed, uint64(i))),
		}
		wg.Go(func() { g.run(ctx) })
	}
	h := &hostile{
		addr:          s.Addr,
		tally:         &s.tally,
		ops:           every(cfg.Ops),
		idleTimeout:   cfg.IdleTimeout,
		headerTimeout: cfg.HeaderTimeout,
	}
	wg.Go(func() { h.resetLoop(ctx) })
	wg.Go(func() { h.unreadLoop(ctx) })
	wg.Go(func() { h.invalidLoop(ctx) })
	wg.Go(func() { h.slowLoop(ctx) })
	wg.Go(func() { h.noReadLoop(ctx) })
	wg.Go(func() { h.churnLoop(ctx, cfg.ChurnEvery, cfg.Churn) })
	spread := cfg.IdleTimeout
	if spread == 0 {
		spread = IdleHold
	}
	for i := 0; i < cfg.Idle; i++ {
		phase := spread * time.Duration(i) / time.Duration(cfg.Idle)
		wg.Go(func() { h.idleLoop(ctx, phase) })
	}
}

// sampleLoad reads every server every cfg.Interval until ctx ends, and once
// more then, and writes the progress line after each round.
func sampleLoad(ctx context.Context, cfg Config, servers []*server, at func() time.Duration) {
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	prev := time.Duration(0)
	for last := false; !last; {
		select {
		case <-ctx.Done():
			// One more reading at the end of the load, so the curve ends
			// where the clients stopped, whatever the ticker's phase,
			// unless a reading was just taken.
			last = true
		case <-tick.C:
		}
		now := at()
		if last && now-prev < cfg.Interval/2 {
			return
		}
		prev = now
		for _, s := range servers {
			if s.gone != nil {
				continue
			}
			r, err := read(s.PID, now)
			if err != nil {
				s.gone = err
				continue
			}
			s.last = r
			s.curve.Load = append(s.curve.Load, r.Sample)
		}
		if cfg.Progress != nil {
			writeProgress(cfg.Progress, now, cfg.settings(), servers)
		}
	}
}

// settle reads each server every 200 ms after the clients stopped, until
// its descriptors are back within the slack of its baseline or cfg.Settle
// has passed; the last reading is the curve's Settled one.
func settle(cfg Config, servers []*server, at func() time.Duration) {
	deadline := time.Now().Add(cfg.Settle)
	pending := len(servers)
	done := make([]bool, len(servers))
	for first := true; pending > 0; first = false {
		if !first {
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		for i, s := range servers {
			if done[i] {
				continue
			}
			if s.gone != nil {
				done[i] = true
				pending--
				continue
			}
			r, err := read(s.PID, at())
			if err != nil {
				s.gone = err
				continue
			}
			if first {
				// The CPU the server used under the clients.
				s.last = r
			}
			s.curve.Settled = r.Sample
			if r.FDs-s.base.FDs <= cfg.Limits.FDSlack {
				done[i] = true
				pending--
			}
		}
	}
}

// selfCPU is the CPU time this process (the clients) has used so far.
func selfCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package load

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Failed connections wait this long before they are reopened, so a dead or
// hostile server is retried a hundred times a second per connection, not
// spun on.
const backoff = 10 * time.Millisecond

// Run loads cfg.Addr for cfg.Warmup and then cfg.Duration, and returns
// what it measured over the window. When ctx ends first, Run stops at once
// and returns what it measured so far together with ctx's error. Every fd
// it opened is closed when it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	target, err := parseTarget(cfg.Addr, cfg.Target)
	if err != nil {
		return nil, err
	}
	stop, err := newStop()
	if err != nil {
		return nil, err
	}
	p := newPlan(cfg, stop)
	p.target = target

	loops := make([]*loop, cfg.Threads)
	for i := range loops {
		l, err := newLoop(p, i, cfg.Threads, cfg.Conns)
		if err != nil {
			for _, l := range loops[:i] {
				l.close()
			}
			closeFd(stop)
			return nil, err
		}
		attach(l)
		loops[i] = l
	}

	// A loop blocked in epoll_wait holds its P in a system call. With no P
	// idle, sysmon takes it back after 20µs and keeps waking that often,
	// which on a client pinned to one CPU steals the loop's own CPU; one
	// spare P lets the loop sleep without that. Restored when Run returns.
	if procs := runtime.GOMAXPROCS(0); procs <= cfg.Threads {
		runtime.GOMAXPROCS(cfg.Threads + 1)
		defer runtime.GOMAXPROCS(procs)
	}

	var wg sync.WaitGroup
	enterErrs := make([]error, len(loops))
	for i, l := range loops {
		if cfg.Enter == nil {
			wg.Go(l.run)
			continue
		}
		wg.Go(func() {
			ran := false
			enterErrs[i] = cfg.Enter(func() error { ran = true; l.run(); return nil })
			if !ran {
				// run closes the loop's fds; a loop that never ran must
				// close them here.
				l.close()
			}
		})
	}
	endAt, ctxErr := window(ctx, cfg, p)
	// The stop event is level-triggered in every loop's set: one write
	// ends them all.
	stopErr := signalStop(stop)
	wg.Wait()
	closeFd(stop)

	r := newResult(cfg)
	for i, l := range loops {
		r.add(l)
		if l.err != nil && err == nil {
			err = fmt.Errorf("load loop: %w", l.err)
		}
		if enterErrs[i] != nil && err == nil {
			err = fmt.Errorf("load loop: enter: %w", enterErrs[i])
		}
	}
	if endAt > p.begin {
		r.Elapsed = time.Duration(endAt - p.begin)
		r.RPS = float64(r.Requests) / r.Elapsed.Seconds()
	}
	switch {
	case err != nil:
		return r, err
	case stopErr != nil:
		return r, stopErr
	}
	return r, ctxErr
}

// account is what one loop measures in open loop besides the corrected
// latency: service times from each actual send, and how late the client
// sent. Only its loop writes it.
type account struct {
	service, lag *hdrhistogram.Histogram
}

// attach gives l its open-loop account and its connections the rings of
// actual send times. Closed loop needs neither: the send time is the
// actual one and sends are never late.
func attach(l *loop) {
	if l.plan.interval == 0 {
		return
	}
	l.acct = &account{service: newHistogram(), lag: newHistogram()}
	p := l.plan.pipeline
	sent := make([]int64, len(l.conns)*p)
	for i := range l.conns {
		c := &l.conns[i]
		c.sent = sent[i*p : (i+1)*p : (i+1)*p]
	}
}

// newPlan fixes the shared, read-only part of a run.
func newPlan(cfg Config, stop int) *plan {
	req := request(cfg.Addr)
	p := &plan{
		req1:     req,
		reqs:     bytes.Repeat(req, cfg.Pipeline+1),
		pipeline: cfg.Pipeline,
		timeout:  int64(cfg.Timeout),
		backoff:  int64(backoff),
		stop:     stop,
	}
	// Timeouts are checked an eighth of the timeout apart, within bounds,
	// so one fires between 1 and 1.125 timeouts after its send.
	p.sweep = min(max(p.timeout/8, int64(time.Millisecond)), int64(100*time.Millisecond))
	if cfg.Rate > 0 {
		// Each connection gets an equal share of the rate on a fixed
		// schedule.
		p.interval = max(int64(float64(cfg.Conns)*float64(time.Second)/cfg.Rate), 1)
	}
	p.start = now()
	p.begin = p.start + int64(cfg.Warmup)
	p.end = p.begin + int64(cfg.Duration)
	return p
}

// window waits out the warmup and the measured window on the caller's
// goroutine, calling OnWindow at the window's edges. It returns when the
// window ended (in now()'s clock) and ctx's error if ctx cut it short.
func window(ctx context.Context, cfg Config, p *plan) (int64, error) {
	wait := func(until int64) error {
		d := time.Duration(until - now())
		if d <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	if err := wait(p.begin); err != nil {
		return now(), err
	}
	if cfg.OnWindow != nil {
		cfg.OnWindow(true)
	}
	err := wait(p.end)
	endAt := min(now(), p.end)
	if cfg.OnWindow != nil {
		cfg.OnWindow(false)
	}
	return endAt, err
}

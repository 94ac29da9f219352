package soak

import (
	"context"
	"fmt"
	"time"

	"github.com/readinesslab/readiness/internal/child"
)

// Servers are the models under soak, each running as its own child
// process (`EXE serve MODEL ARGS... -addr 127.0.0.1:0`), so that what is
// read from /proc is that server's alone.
type Servers struct {
	names []string
	procs []*child.Server
}

// StartServers starts one server per model with the extra serve flags
// args, and the idle and header timeouts the clients will expect.
func StartServers(exe string, models []string, idleTimeout, headerTimeout time.Duration, args ...string) (*Servers, error) {
	s := &Servers{}
	for _, m := range models {
		full := append([]string{m, "-idle-timeout", idleTimeout.String(), "-header-timeout", headerTimeout.String()}, args...)
		p, err := child.Start(context.Background(), exe, full, child.Options{})
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("start %s: %w", m, err)
		}
		s.names = append(s.names, m)
		s.procs = append(s.procs, p)
	}
	return s, nil
}

// Targets are the started servers, for Run.
func (s *Servers) Targets() []Target {
	out := make([]Target, len(s.procs))
	for i, p := range s.procs {
		out[i] = Target{Name: s.names[i], Addr: p.Addr, PID: p.PID}
	}
	return out
}

// Stop sends every server SIGTERM and waits for it. It returns, by model,
// how each server that did not exit 0 within the contract's bound ended.
func (s *Servers) Stop() map[string]error {
	errs := map[string]error{}
	for i, p := range s.procs {
		if err := p.Stop(); err != nil {
			errs[s.names[i]] = err
		}
	}
	s.procs, s.names = nil, nil
	return errs
}

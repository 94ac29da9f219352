package epoll

import (
	"os"
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

// TestConformance runs the one test body in every mode the server has:
// both triggers by every accept mode, each with the body's two loops, so
// that connections spread over SO_REUSEPORT listeners or meet on one
// listener in both loops' epoll sets, with EPOLLEXCLUSIVE or without.
func TestConformance(t *testing.T) {
	first := true
	for _, trigger := range []string{serve.TriggerLevel, serve.TriggerEdge} {
		for _, accept := range []string{serve.AcceptReusePort, serve.AcceptExclusive, serve.AcceptShared} {
			mode := trigger + "/" + accept
			t.Run(mode, func(t *testing.T) {
				conformance.Run(t, conformance.Model{
					Name: "epoll " + mode,
					Start: func(cfg serve.Config) (serve.Server, error) {
						cfg.Trigger, cfg.Accept = trigger, accept
						return Start(cfg)
					},
					EventLoops: true,
					Repeat:     !first,
				})
			})
			first = false
		}
	}
}

func TestMain(m *testing.M) { os.Exit(conformance.Main(m)) }

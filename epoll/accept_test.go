package epoll

import (
	"testing"

	"github.com/readinesslab/readiness/internal/serve"
)

// With one listener in every loop's epoll set and no EPOLLEXCLUSIVE, each
// connection wakes every idle loop; one wins accept4 and the others get
// EAGAIN. Every client must still be served, whichever loop took it, in
// both trigger modes.
func TestSharedManyClients(t *testing.T) {
	for _, trigger := range []string{serve.TriggerLevel, serve.TriggerEdge} {
		t.Run(trigger, func(t *testing.T) {
			cfg := testConfig()
			cfg.Loops, cfg.Trigger, cfg.Accept = 4, trigger, serve.AcceptShared
			s := start(t, cfg)
			converseAll(t, s.Addr(), 200, 5)
		})
	}
}

package epoll

import (
	"strings"
	"testing"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet"
)

// IPv6 loopback, where the machine has it.
func TestIPv6(t *testing.T) {
	cfg := testConfig()
	cfg.Addr = "[::1]:0"
	testnet.NoLeaks(t)
	s, err := Start(cfg)
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() {
		if err := <-testnet.ShutdownAsync(s); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	if !strings.HasPrefix(s.Addr(), "[::1]:") {
		t.Fatalf("Addr %q", s.Addr())
	}
	c := dial(t, s)
	for range 3 {
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, wait)
	}
}

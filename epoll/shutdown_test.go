package epoll

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/readinesslab/readiness/internal/testnet"
)

// Shutdown may be called from many goroutines at once, some with a context
// that has already ended. Whichever of them wakes the loops (to stop, or to
// abort), none may write to a wake eventfd another is closing: under -race
// the detector reports it, and outside it the write could land on an fd
// number the process has reused.
func TestConcurrentShutdown(t *testing.T) {
	testnet.NoLeaks(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for round := 0; round < 30; round++ {
		cfg := testConfig()
		cfg.Loops = 2
		s, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			ctx := context.Background()
			if i%2 == 1 {
				ctx = cancelled
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Shutdown: %v", err)
				}
			}()
		}
		wg.Wait()
	}
}

package stress

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

const (
	shutdownDelay   = time.Second     // how long each response is held
	shutdownBound   = 5 * time.Second // the contract's bound on a graceful exit
	shutdownConns   = 50              // connections with a response in flight
	shutdownBatch   = 16              // requests pipelined on the first of them
	shutdownSerialN = 1               // the serial server holds one at a time
)

// testShutdown starts Shutdown while delayed responses are held: every one
// of them must arrive whole, each connection must then be closed, Shutdown
// must return nil within the contract's bound, and the listener must be
// gone. It runs with both delay modes.
func testShutdown(t *testing.T, m conformance.Model) {
	for _, mode := range []string{serve.DelayTimer, serve.DelayBlock} {
		t.Run(mode, func(t *testing.T) {
			conns := shutdownConns
			if m.Serial || mode == serve.DelayBlock {
				// A blocked loop answers its connections one delay after
				// another; one connection with a batch in flight is the
				// case that matters.
				conns = shutdownSerialN
			}
			shutdownInFlight(t, m, mode, conns)
		})
	}
}

func shutdownInFlight(t *testing.T, m conformance.Model, mode string, n int) {
	cfg := config(m)
	cfg.Delay = shutdownDelay
	cfg.DelayMode = mode
	base := baseline(t)
	srv := start(t, m, cfg)
	addr := srv.Addr()

	clients := make([]*net.TCPConn, n)
	want := make([][]byte, n)
	for i := range clients {
		clients[i] = mustDial(t, addr)
		req := request
		if i == 0 {
			req = pipeline(shutdownBatch)
		}
		want[i] = []byte(strings.Repeat(string(proto.OK), strings.Count(req, request)))
		_ = clients[i].SetDeadline(time.Now().Add(ioTimeout))
		if _, err := io.WriteString(clients[i], req); err != nil {
			t.Fatalf("client %d: write: %v", i, err)
		}
	}
	// Shutdown starts once the server has read every request: their
	// responses are in flight, held for the delay.
	if err := WaitRead(addr, clients, ioTimeout); err != nil {
		t.Fatal(err)
	}

	t0 := time.Now()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*shutdownBound)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := expectWithin(c, want[i], shutdownBound); err != nil {
				errs[i] = fmt.Errorf("client %d: response in flight: %w", i, err)
				return
			}
			if err := expectClosed(c, shutdownBound); err != nil {
				errs[i] = fmt.Errorf("client %d: after its response: %w", i, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	select {
	case err := <-shut:
		took := time.Since(t0)
		t.Logf("Shutdown returned %v after %v with %d connections in flight (delay %v, %s)", err, took.Round(time.Millisecond), n, shutdownDelay, mode)
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if took > shutdownBound {
			t.Errorf("Shutdown took %v, over the contract's %v", took, shutdownBound)
		}
	case <-time.After(2 * shutdownBound):
		t.Fatalf("Shutdown did not return within %v", 2*shutdownBound)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the listener still accepts after Shutdown")
	}
	for _, c := range clients {
		c.Close()
	}
	settle(t, base, 5*time.Second)
}

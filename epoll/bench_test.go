package epoll

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

// BenchmarkServer measures requests over loopback against one loop, with
// closed-loop clients keeping pipeline requests in flight each. One op is
// one request. Allocations count the whole process (clients included, which
// allocate nothing per request), so allocs/op shows the server's own.
func BenchmarkServer(b *testing.B) {
	for _, trigger := range []string{serve.TriggerLevel, serve.TriggerEdge} {
		for _, pipeline := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/pipeline=%d", trigger, pipeline), func(b *testing.B) {
				benchServer(b, trigger, 16, pipeline)
			})
		}
	}
}

func benchServer(b *testing.B, trigger string, conns, pipeline int) {
	cfg := testConfig()
	cfg.Trigger = trigger
	s, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	batch := []byte(strings.Repeat(get, pipeline))
	want := bytes.Repeat(proto.OK, pipeline)
	var left atomic.Int64 // batches still to send, over all clients
	left.Store(int64((b.N + pipeline - 1) / pipeline))
	var failed atomic.Value

	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]byte, len(want))
			c.SetDeadline(time.Now().Add(time.Minute))
			for left.Add(-1) >= 0 {
				if _, err := c.Write(batch); err != nil {
					failed.Store(err)
					return
				}
				if _, err := io.ReadFull(c, got); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
}

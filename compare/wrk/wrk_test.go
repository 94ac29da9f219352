package wrk

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var response = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

// serve answers every complete request head with the lab's response until
// the test ends. It counts heads only, which is all wrk sends.
func serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 64<<10)
				var pending []byte
				var out []byte
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					pending = append(pending, buf[:n]...)
					out = out[:0]
					for {
						i := bytes.Index(pending, []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						pending = pending[i+4:]
						out = append(out, response...)
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRun(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed")
	}
	addr := serve(t)
	for _, depth := range []int{1, 8} {
		started := 0
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		r, err := Run(ctx, Config{Addr: addr, Conns: 4, Threads: 1, Pipeline: depth, Duration: time.Second,
			OnStart: func(pid int) {
				if pid > 0 {
					started++
				}
			}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if started != 1 {
			t.Errorf("OnStart called %d times with a pid, want once", started)
		}
		if r.Requests <= 0 || r.RPS <= 0 || r.Errors() != 0 {
			t.Errorf("pipeline %d: requests %d, rps %.0f, errors %d", depth, r.Requests, r.RPS, r.Errors())
		}
		// wrk itself prints 0 for a high percentile of a short pipelined
		// run when its walk passes the samples it holds (compare reports
		// such a figure as null with a note); every other figure must be in
		// order.
		last := r.P50
		for _, p := range []time.Duration{r.P75, r.P90, r.P99, r.P999, r.Max} {
			if p == 0 && p != r.Max {
				continue
			}
			if p < last {
				t.Errorf("pipeline %d: percentiles out of order: %+v", depth, r)
			}
			last = p
		}
		if !r.HasP999 || r.P50 <= 0 {
			t.Errorf("pipeline %d: no p50 or no p99.9 line: %+v", depth, r)
		}
	}
}

func TestMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Run(context.Background(), Config{Addr: "127.0.0.1:1", Conns: 1, Pipeline: 1, Duration: time.Second})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Run without wrk: %v, want ErrNotInstalled", err)
	}
	if want := "apt-get install wrk"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Result
	}{
		{file: "plain.txt", want: Result{
			Requests: 412071, Elapsed: 1010 * time.Millisecond, RPS: 408003.79,
			P50: 21 * time.Microsecond, P75: 27 * time.Microsecond, P90: 33 * time.Microsecond, P99: 57 * time.Microsecond,
			P999: 212 * time.Microsecond, HasP999: true, Max: 3012 * time.Microsecond,
		}},
		{file: "errors.txt", want: Result{
			Requests: 1234, Elapsed: 2 * time.Second, RPS: 617.00,
			Connect: 1, Read: 2, Write: 3, Timeout: 4, Non2xx: 5,
			P50: 1200 * time.Microsecond, P75: 1500 * time.Microsecond, P90: 2 * time.Millisecond, P99: 1500 * time.Millisecond,
			Max: 1800 * time.Millisecond,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if *r != tc.want {
				t.Errorf("got  %+v\nwant %+v", *r, tc.want)
			}
		})
	}
	if _, err := Parse([]byte("Running 1s test @ http://127.0.0.1:1/\n")); err == nil {
		t.Error("no error for a report without figures")
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, 300 * time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 5 * time.Second: 5} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%v) = %d, want %d", d, got, want)
		}
	}
}

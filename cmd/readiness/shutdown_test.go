package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// The contract's shutdown, through the real binary and real signals: every
// model of the table, and std with -serial, runs as `readiness serve` in its
// own process.

const (
	// shutdownBound is the contract's bound from the signal to the exit.
	shutdownBound = 5 * time.Second
	// inFlightDelay is how long the responses in flight are held.
	inFlightDelay = time.Second
)

// variant is a server as one command line names it.
type variant struct {
	name   string
	args   []string // the model and the flags that make the variant
	serial bool
}

// variants lists every model of the table, plus the serial variant of each
// model that takes -serial.
func variants() []variant {
	var vs []variant
	for _, m := range models {
		vs = append(vs, variant{name: m.name, args: []string{m.name}})
	}
	for _, m := range models {
		if !m.ignores("serial") {
			vs = append(vs, variant{name: m.name + "-serial", args: []string{m.name, "-serial"}, serial: true})
		}
	}
	return vs
}

// eachVariant runs body for every variant, in parallel.
func eachVariant(t *testing.T, body func(t *testing.T, v variant)) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			body(t, v)
		})
	}
}

// TestShutdownSignalDeliversInFlight: with delayed responses held on several
// connections (a pipelined batch on the first), a SIGTERM or SIGINT lets
// every one of them out whole, then each connection ends with a clean end of
// file, nothing new is served, and the process exits 0 within the contract's
// 5 s of the signal. Both delay modes; in block mode, and on the serial
// server, one connection holds the batch, as a blocked loop answers its
// connections one delay after another.
func TestShutdownSignalDeliversInFlight(t *testing.T) {
	cases := []struct {
		mode string
		sig  syscall.Signal
	}{
		{"timer", syscall.SIGTERM},
		{"block", syscall.SIGTERM},
		{"timer", syscall.SIGINT},
	}
	eachVariant(t, func(t *testing.T, v variant) {
		for _, tc := range cases {
			t.Run(tc.mode+"-"+sigName(tc.sig), func(t *testing.T) {
				conns := 6
				if v.serial || tc.mode == "block" {
					conns = 1
				}
				inFlight(t, v, tc.mode, tc.sig, conns)
			})
		}
	})
}

// inFlight runs one case of TestShutdownSignalDeliversInFlight.
func inFlight(t *testing.T, v variant, mode string, sig syscall.Signal, n int) {
	const batch = 8 // requests pipelined on the first connection
	args := append(append([]string{}, v.args[1:]...), "-loops", "1",
		"-delay", inFlightDelay.String(), "-delay-mode", mode)
	p := startServe(t, append([]string{v.args[0]}, args...)...)

	clients := make([]*net.TCPConn, n)
	want := make([][]byte, n)
	for i := range clients {
		k := 1
		if i == 0 {
			k = batch
		}
		clients[i], want[i] = testnet.Dial(t, p.Addr), bytes.Repeat(proto.OK, k)
		testnet.Send(t, clients[i], strings.Repeat(testnet.Get, k))
	}
	// The responses are in flight once the server has read the requests:
	// its sockets' receive queues are empty. They are held for inFlightDelay,
	// far longer than that check takes.
	sent := time.Now()
	if err := testnet.WaitRead(p.Addr, clients, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	p.signal(t, sig)
	t.Logf("signal %v after the requests went out", t0.Sub(sent).Round(time.Millisecond))

	for i, c := range clients {
		c.SetReadDeadline(t0.Add(shutdownBound))
		if err := netcheck.Expect(c, want[i]); err != nil {
			t.Fatalf("client %d, its responses in flight: %v; stderr:\n%s", i, err, p.stderr)
		}
	}
	for i, c := range clients {
		if err := netcheck.ExpectEOF(c, time.Until(t0.Add(shutdownBound))); err != nil {
			t.Errorf("client %d, after its responses: %v", i, err)
		}
	}
	if err := notServed(p.Addr); err != nil {
		t.Error(err)
	}
	code := p.wait(t, time.Until(t0.Add(shutdownBound)))
	took := time.Since(t0)
	t.Logf("%s -delay-mode %s: exit %d %v after %v with %d connections in flight", v.name, mode, code, sig, took.Round(time.Millisecond), n)
	if code != 0 {
		t.Errorf("exit status %d after %v, want 0; stderr:\n%s", code, sig, p.stderr)
	}
}

// notServed requires a connection made after the signal not to be served:
// refused, or (a server may still accept during its shutdown) turned away
// with 503 or closed without an answer.
func notServed(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		return fmt.Errorf("dial after the signal: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, testnet.Get)
	got, err := io.ReadAll(c)
	if len(got) == 0 || bytes.Equal(got, proto.ServiceUnavailable) {
		return nil
	}
	return fmt.Errorf("a connection made after the signal got %q (%v), want none or 503", got, err)
}

// TestShutdownSecondSignal: a second signal during the graceful shutdown ends
// the process at once, with status 128 plus that signal's number, while a
// response is still held (delay 1m).
func TestShutdownSecondSignal(t *testing.T) {
	eachVariant(t, func(t *testing.T, v variant) {
		for _, sigs := range [][2]syscall.Signal{{syscall.SIGINT, syscall.SIGTERM}, {syscall.SIGTERM, syscall.SIGINT}} {
			t.Run(sigName(sigs[0])+"-"+sigName(sigs[1]), func(t *testing.T) {
				args := append([]string{}, v.args...)
				p := startServe(t, append(args, "-delay", "1m", "-delay-mode", "timer")...)
				c := testnet.Dial(t, p.Addr)
				testnet.Send(t, c, testnet.Get)
				if err := testnet.WaitRead(p.Addr, []*net.TCPConn{c}, 5*time.Second); err != nil {
					t.Fatal(err)
				}
				p.signal(t, sigs[0])
				// The second signal must come after the first was taken:
				// the server says so on stderr.
				for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.stderr.String(), "a second signal exits at once"); {
					if time.Now().After(deadline) {
						t.Fatalf("no shutdown message 5s after %v; stderr:\n%s", sigs[0], p.stderr)
					}
					time.Sleep(10 * time.Millisecond)
				}
				t0 := time.Now()
				p.signal(t, sigs[1])
				code := p.wait(t, 3*time.Second)
				t.Logf("exit %d %v after the second signal", code, time.Since(t0).Round(time.Millisecond))
				if want := 128 + int(sigs[1]); code != want {
					t.Errorf("exit status %d after %v then %v, want %d; stderr:\n%s", code, sigs[0], sigs[1], want, p.stderr)
				}
			})
		}
	})
}

// sigName names a signal for a subtest.
func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "sigint"
	case syscall.SIGTERM:
		return "sigterm"
	}
	return strconv.Itoa(int(s))
}

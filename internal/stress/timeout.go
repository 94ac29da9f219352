package stress

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/proto"
)

// Timeout settings of the cases, and the generous bound within which the
// server must act once a timeout has passed.
// The well-behaved clients act ten times as often as a timeout asks, so
// that only a stall of most of a timeout (the machine is shared and busy)
// could make them look idle or slow.
const (
	idleTimeout   = time.Second
	headerTimeout = time.Second
	slowByte      = 150 * time.Millisecond // the slow-header client's pace
	actWithin     = 5 * time.Second
)

// testIdleTimeout: a keep-alive connection that goes quiet after a request
// is closed after the idle timeout, and so is one that never sends a byte;
// one that keeps asking more often than the timeout stays open. The
// connections take turns, so the case runs on the serial server too.
func testIdleTimeout(t *testing.T, m conformance.Model) {
	cfg := config(m)
	cfg.IdleTimeout = idleTimeout
	srv := start(t, m, cfg)
	addr := srv.Addr()
	warmUp(t, addr)
	base := baseline(t)

	quiet := mustDial(t, addr)
	if err := roundTrip(quiet, request, proto.OK); err != nil {
		t.Fatal(err)
	}
	closedAfterIdle(t, "after a request", quiet)
	quiet.Close()

	silent := mustDial(t, addr)
	closedAfterIdle(t, "without a byte", silent)
	silent.Close()

	busy := mustDial(t, addr)
	for end := time.Now().Add(2 * idleTimeout); time.Now().Before(end); {
		if err := roundTrip(busy, request, proto.OK); err != nil {
			t.Fatalf("a connection asking every %v, with idle timeout %v: %v", idleTimeout/10, idleTimeout, err)
		}
		time.Sleep(idleTimeout / 10)
	}
	busy.Close()
	settle(t, base, 5*time.Second)
}

// closedAfterIdle requires the server to close c, idle from now, after the
// idle timeout: not long before it, and within actWithin.
func closedAfterIdle(t *testing.T, what string, c net.Conn) {
	t.Helper()
	t0 := time.Now()
	if err := expectEOF(c, actWithin); err != nil {
		t.Fatalf("idle connection %s: %v", what, err)
	}
	took := time.Since(t0)
	t.Logf("idle connection %s closed after %v (idle timeout %v)", what, took.Round(time.Millisecond), idleTimeout)
	if took < idleTimeout/2 {
		t.Errorf("idle connection %s closed after %v, before the idle timeout %v", what, took, idleTimeout)
	}
}

// testHeaderTimeout: a client that sends its request head one byte every
// slowByte gets 408 once the header timeout has passed since its first
// byte, then end of file; a client whose head takes a while but less than
// the timeout is served.
func testHeaderTimeout(t *testing.T, m conformance.Model) {
	cfg := config(m)
	cfg.HeaderTimeout = headerTimeout
	srv := start(t, m, cfg)
	addr := srv.Addr()
	warmUp(t, addr)
	base := baseline(t)

	// In time: the head in three parts spread over a fifth of the timeout.
	c := mustDial(t, addr)
	parts := []string{request[:5], request[5:20], request[20:]}
	for i, p := range parts {
		if i > 0 {
			time.Sleep(headerTimeout / 10)
		}
		if _, err := io.WriteString(c, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := expect(c, proto.OK); err != nil {
		t.Fatalf("a head complete within the timeout: %v", err)
	}
	c.Close()

	slow := mustDial(t, addr)
	stop := make(chan struct{})
	wrote := make(chan int, 1)
	go func() {
		n := 0
		defer func() { wrote <- n }()
		for n < len(request) {
			if _, err := slow.Write([]byte{request[n]}); err != nil {
				return
			}
			n++
			select {
			case <-stop:
				return
			case <-time.After(slowByte):
			}
		}
	}()
	t0 := time.Now()
	err := expectWithin(slow, proto.RequestTimeout, headerTimeout+actWithin)
	took := time.Since(t0)
	close(stop)
	n := <-wrote
	if err != nil {
		t.Fatalf("slow-header client (%d bytes sent over %v): %v", n, took.Round(time.Millisecond), err)
	}
	t.Logf("408 after %v and %d bytes, one every %v (header timeout %v)", took.Round(time.Millisecond), n, slowByte, headerTimeout)
	if took < headerTimeout/2 {
		t.Errorf("408 after %v, before the header timeout %v", took, headerTimeout)
	}
	if err := expectEOF(slow, actWithin); err != nil {
		t.Errorf("after the 408: %v", err)
	}
	slow.Close()
	settle(t, base, 5*time.Second)
}

// expectWithin reads want from c within d.
func expectWithin(c net.Conn, want []byte, d time.Duration) error {
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	return expect(c, want)
}

// expectEOF requires a clean end of file on c within d, with nothing before
// it: the server closed (or half-closed) its side, without a reset.
func expectEOF(c net.Conn, d time.Duration) error {
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	var buf [256]byte
	n, err := c.Read(buf[:])
	switch {
	case n > 0:
		return errors.New("unexpected bytes instead of end of file: " + string(buf[:n]))
	case errors.Is(err, io.EOF):
		return nil
	default:
		return errors.Join(errors.New("want end of file"), err)
	}
}

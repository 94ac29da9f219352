package stress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// request is the keep-alive request the well-behaved clients send; its
// answer is proto.OK.
const request = "GET /stress HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// ioTimeout bounds every single read or write a client does, so that a
// server that stops answering fails the test instead of hanging it.
const ioTimeout = 10 * time.Second

// dial connects to addr, from local when it is not nil.
func dial(addr string, local net.Addr) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: local}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// roundTrip writes req on c and reads exactly len(want) bytes, which must be
// want.
func roundTrip(c net.Conn, req string, want []byte) error {
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return expect(c, want)
}

// expect reads exactly len(want) bytes from c, which must be want.
func expect(c net.Conn, want []byte) error {
	got := make([]byte, len(want))
	n, err := io.ReadFull(c, got)
	if err != nil {
		return fmt.Errorf("read after %d of %d bytes (%q): %w", n, len(want), got[:n], err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// expectClosed reads from c until the server closes it, within d; nothing
// more may arrive. A reset counts as closed: the contract lets a server close
// a connection whose request it did not read, which the kernel turns into a
// reset.
func expectClosed(c net.Conn, d time.Duration) error {
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	var buf [512]byte
	n, err := c.Read(buf[:])
	switch {
	case n > 0:
		return fmt.Errorf("%d unexpected bytes before the close: %q", n, buf[:n])
	case isClosed(err):
		return nil
	default:
		return fmt.Errorf("not closed: %w", err)
	}
}

// isClosed reports whether err from a read means the peer closed or reset.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// reset closes c with SO_LINGER 0, so the kernel sends a reset instead of a
// FIN and discards whatever is queued either way.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// answer is how the server answered a new connection under a cap.
type answer int

const (
	served   answer = iota // 200 and the connection stays open
	rejected               // 503, then closed
)

// classify sends one request on c and says whether the server served it or
// turned the connection away with 503 and a close. Anything else is an
// error.
func classify(c net.Conn) (answer, error) {
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return 0, err
	}
	// A write can fail when the server already rejected and closed the
	// connection: the 503 is still readable then.
	_, werr := io.WriteString(c, request)
	var got []byte
	buf := make([]byte, 256)
	for len(got) < len(proto.OK) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if isClosed(err) && bytes.Equal(got, proto.ServiceUnavailable) {
				return rejected, nil
			}
			return 0, fmt.Errorf("read %q: %w (write: %v)", got, err, werr)
		}
		if bytes.Equal(got, proto.ServiceUnavailable) {
			if err := expectClosed(c, ioTimeout); err != nil {
				return 0, fmt.Errorf("after 503: %w", err)
			}
			return rejected, nil
		}
	}
	if !bytes.Equal(got, proto.OK) {
		return 0, fmt.Errorf("got %q, want 200 or 503", got)
	}
	return served, nil
}

// pipeline is n copies of request, written at once.
func pipeline(n int) string { return strings.Repeat(request, n) }

// warmUp has one client served and gone before a case takes its baseline,
// so that whatever a server sets up on its first connection is counted in.
func warmUp(t *testing.T, addr string) {
	t.Helper()
	c, err := dial(addr, nil)
	if err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	defer c.Close()
	if err := roundTrip(c, request, proto.OK); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
}

package netcheck

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// pipe returns a loopback TCP connection and runs server on its other
// end. A real socket, not net.Pipe: net.Pipe refuses a deadline once the
// peer has closed, which a socket does not, so a check run after the
// server's close would fail there for a reason no server can cause.
func pipe(t *testing.T, server func(s net.Conn)) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	go server(s)
	return c
}

func TestExpectNamesTheByte(t *testing.T) {
	c := pipe(t, func(s net.Conn) { s.Write([]byte("HTTP/1.1 200 OK\r\nContent-Typo")) })
	err := Expect(c, "HTTP/1.1 200 OK\r\nContent-Type")
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "at byte 28 of 29") {
		t.Errorf("err %v: want a mismatch at byte 28", err)
	}
}

func TestExpectShort(t *testing.T) {
	c := pipe(t, func(s net.Conn) {
		s.Write([]byte("HTTP/1.1"))
		s.Close()
	})
	err := Expect(c, []byte("HTTP/1.1 200 OK"))
	if errors.Is(err, ErrMismatch) || !errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "read 8 of 15 bytes") {
		t.Errorf("err %v: want 8 of 15 bytes, then EOF", err)
	}
}

func TestEnds(t *testing.T) {
	// The check runs after the server's close, the order a server's tests
	// meet most.
	done := make(chan struct{})
	closed := pipe(t, func(s net.Conn) { s.Close(); close(done) })
	<-done
	if err := ExpectEOF(closed, time.Second); err != nil {
		t.Errorf("ExpectEOF on a closed connection: %v", err)
	}
	talks := pipe(t, func(s net.Conn) { s.Write([]byte("x")) })
	if err := ExpectClosed(talks, time.Second); !errors.Is(err, ErrMismatch) {
		t.Errorf("ExpectClosed on a connection that sends: %v, want a mismatch", err)
	}
	silent := pipe(t, func(net.Conn) {})
	if err := ExpectSilence(silent, 50*time.Millisecond); err != nil {
		t.Errorf("ExpectSilence on a silent connection: %v", err)
	}
	if err := ExpectEOF(silent, 50*time.Millisecond); err == nil || Classify(errors.Unwrap(err)) != Timeout {
		t.Errorf("ExpectEOF on a silent connection: %v, want a timeout", err)
	}
}

func TestAdmitted(t *testing.T) {
	for _, tc := range []struct {
		answer string
		close  bool
		served bool
		fails  bool
	}{
		{"200", false, true, false},
		{"503", true, false, false},
		{"500", true, false, true},
		{"", true, false, true},
	} {
		c := pipe(t, func(s net.Conn) {
			io.ReadFull(s, make([]byte, 3))
			s.Write([]byte(tc.answer))
			if tc.close {
				s.Close()
			}
		})
		served, err := Admitted(c, "GET", "200", "503", time.Second)
		if served != tc.served || (err != nil) != tc.fails {
			t.Errorf("answer %q: served %v, %v", tc.answer, served, err)
		}
	}
}

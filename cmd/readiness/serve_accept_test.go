package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// -accept shared is an epoll mode of its own: the startup line names it and
// the server answers through whichever of its loops wins each accept.
func TestServeAcceptShared(t *testing.T) {
	p := startServe(t, "epoll", "-accept", "shared", "-loops", "4")
	if !strings.Contains(p.Line, "accept=shared") {
		t.Errorf("listening line %q: want accept=shared", p.Line)
	}
	for i := 0; i < 8; i++ {
		request(t, p.Addr).Close()
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr)
	}
}

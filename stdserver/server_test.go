package stdserver

import (
	"bytes"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet"
)

// Two clients of a slow serial server are answered one after the other: the
// second is not even read while the first stays connected.
func TestSerial(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.Serial = true
	cfg.Delay = 100 * time.Millisecond
	s := start(t, cfg)

	a := testnet.Dial(t, s.Addr())
	testnet.Send(t, a, get)
	testnet.Expect(t, a, proto.OK, 5*time.Second)
	b := testnet.Dial(t, s.Addr())
	testnet.Send(t, b, get)
	testnet.ExpectSilence(t, b, 500*time.Millisecond)
	testnet.Send(t, a, get)
	testnet.Expect(t, a, proto.OK, 5*time.Second)
	a.Close()
	testnet.Expect(t, b, proto.OK, 5*time.Second)
}

// With both timeouts off a connection sets no deadline: a head that stalls
// is finished later and answered, and an idle connection stays open.
func TestNoTimeouts(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.IdleTimeout, cfg.HeaderTimeout = 0, 0
	s := start(t, cfg)
	if s.timed {
		t.Fatal("timed with both timeouts off")
	}
	c := testnet.Dial(t, s.Addr())
	testnet.Converse(t, c, testnet.Step{Send: get + get[:9], Want: proto.OK})
	testnet.ExpectSilence(t, c, 200*time.Millisecond)
	testnet.Converse(t, c, testnet.Step{Send: get[9:] + get, Want: bytes.Repeat(proto.OK, 2)})
	testnet.ExpectSilence(t, c, 200*time.Millisecond)
	testnet.Converse(t, c, testnet.Step{Send: get, Want: proto.OK})
}

package soak

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// kind is one kind of hostile client.
type kind int

const (
	kindReset   kind = iota // resets (SO_LINGER 0) mid-head, mid-body or mid-pipeline
	kindUnread              // pipelines requests and closes without reading
	kindInvalid             // sends an invalid request and expects the exact error bytes
	kindSlow                // sends its head a byte at a time and expects 408
	kindIdle                // connects, says nothing, expects the idle close
	kindNoRead              // pipelines without ever reading until the server pushes back
	kindChurn               // a burst of connections opened together, left together
	numKinds
)

var kindNames = [numKinds]string{"reset", "unread", "invalid", "slow", "idle", "noread", "churn"}

func (k kind) String() string { return kindNames[k] }

// maxMessages is how many failure messages a server's tally keeps; the
// counts go on.
const maxMessages = 20

// tally counts what the clients of one server did. Clients run on many
// goroutines; the sampler reads the counts while they do.
type tally struct {
	goodRequests atomic.Int64 // requests answered whole and byte for byte right
	goodErrors   atomic.Int64 // well-behaved exchanges that failed
	hostile      [numKinds]atomic.Int64
	hostileFails atomic.Int64 // hostile clients that did not see what the contract promises

	mu       sync.Mutex
	messages []string
}

func (t *tally) goodFailed(err error) {
	t.goodErrors.Add(1)
	t.note("good: %v", err)
}

func (t *tally) hostileFailed(k kind, err error) {
	t.hostileFails.Add(1)
	t.note("%s: %v", k, err)
}

func (t *tally) did(k kind) { t.hostile[k].Add(1) }

func (t *tally) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.messages) < maxMessages {
		t.messages = append(t.messages, fmt.Sprintf(format, args...))
	}
}

func (t *tally) hostileTotal() int64 {
	var n int64
	for i := range t.hostile {
		n += t.hostile[i].Load()
	}
	return n
}

func (t *tally) notes() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.messages...)
}

package epoll

import "github.com/readinesslab/readiness/internal/proto"

// conn is what a connection keeps between events, and nothing more: an idle
// keep-alive connection is one of these (48 bytes, no pointers, so the
// garbage collector never scans the table) plus the kernel's socket. Bytes
// that must outlive an event live in a spill, attached only while there are
// some.
type conn struct {
	st    proto.State // the framing state: body bytes still to skip
	since int64       // when the connection entered its timer list (loop clock, ns)
	spill int32       // index in loop.spills; 0: no bytes kept
	prev  int32       // neighbours in the timer list named by list (fds; -1: none)
	next  int32
	seq   uint32 // tags this slot's registrations; one more for each connection, kept across closes
	list  uint8  // which timer list holds the connection (listNone: none)
	flags uint8  // flag* bits; 0: the slot is free
	want  uint8  // the interest registered with epoll (want* bits)
}

// Connection flags.
const (
	flagOpen       uint8 = 1 << iota // the slot holds a connection
	flagDelayed                      // spill.out holds a batch waiting out the delay
	flagCloseAfter                   // close once spill.out is written (Close verdict, EOF, shutdown)
	flagDrain                        // an error or a closing response: half-close, discard input, then close
	flagShut                         // the write side is shut (draining)
)

// spill holds the bytes one connection must keep between events: the start
// of a request head that is not complete yet, and responses not yet written.
// Either slice is nil when there is nothing in it.
type spill struct {
	in  []byte
	out []byte
}

// chunkBits sets how many slots a table chunk holds (1024: 48 KiB).
const chunkBits = 10

// table holds the connections of one loop, indexed by fd. It grows in fixed
// chunks, allocated the first time an fd in their range is accepted, so its
// memory follows the highest fd in use and a slot never moves.
type table struct {
	chunks []*[1 << chunkBits]conn
}

// get returns the slot of fd, or nil when fd is outside the table.
func (t *table) get(fd int32) *conn {
	i := int(fd) >> chunkBits
	if fd < 0 || i >= len(t.chunks) || t.chunks[i] == nil {
		return nil
	}
	return &t.chunks[i][int(fd)&(1<<chunkBits-1)]
}

// slot returns the slot of fd, allocating its chunk if needed.
func (t *table) slot(fd int32) *conn {
	i := int(fd) >> chunkBits
	for i >= len(t.chunks) {
		t.chunks = append(t.chunks, nil)
	}
	if t.chunks[i] == nil {
		t.chunks[i] = new([1 << chunkBits]conn)
	}
	return &t.chunks[i][int(fd)&(1<<chunkBits-1)]
}

// pool keeps a few released byte slices for reuse, so that connections
// which spill now and then do not allocate each time. It holds at most
// poolSize slices of at most poolMax bytes each.
type pool struct {
	free [][]byte
}

const (
	poolSize = 64
	poolMax  = 64 << 10
)

// get returns an empty slice with room for at least n bytes.
func (p *pool) get(n int) []byte {
	if k := len(p.free); k > 0 && cap(p.free[k-1]) >= n {
		b := p.free[k-1]
		p.free[k-1] = nil
		p.free = p.free[:k-1]
		return b[:0]
	}
	return make([]byte, 0, max(n, 512))
}

// put returns b to the pool (or to the garbage collector when it is big or
// the pool is full).
func (p *pool) put(b []byte) {
	if cap(b) == 0 || cap(b) > poolMax || len(p.free) >= poolSize {
		return
	}
	p.free = append(p.free, b[:0])
}

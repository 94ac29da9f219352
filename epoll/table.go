package epoll

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

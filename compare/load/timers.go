package load

// timers is a min-heap of connection slots keyed by each connection's due
// time: when a scheduled (open-loop) send is due, or when a failed
// connection may be reopened. A connection is in it at most once; its
// index in the heap lives in the connection (hidx, -1 when absent).
type timers struct {
	slots []int32
	conns []conn
}

func (h *timers) len() int { return len(h.slots) }

// top is the earliest due time; only call it when len() > 0.
func (h *timers) top() int64 { return h.conns[h.slots[0]].due }

// set puts slot in the heap at due, or moves it there if present.
func (h *timers) set(slot int32, due int64) {
	c := &h.conns[slot]
	c.due = due
	if c.hidx < 0 {
		c.hidx = int32(len(h.slots))
		h.slots = append(h.slots, slot)
		h.up(int(c.hidx))
		return
	}
	i := int(c.hidx)
	h.up(i)
	h.down(int(c.hidx))
}

// remove takes slot out of the heap if it is there.
func (h *timers) remove(slot int32) {
	c := &h.conns[slot]
	if c.hidx < 0 {
		return
	}
	i, last := int(c.hidx), len(h.slots)-1
	h.swap(i, last)
	h.slots = h.slots[:last]
	c.hidx = -1
	if i < last {
		h.up(i)
		h.down(i)
	}
}

// pop removes and returns the earliest slot.
func (h *timers) pop() int32 {
	s := h.slots[0]
	h.remove(s)
	return s
}

func (h *timers) less(i, j int) bool {
	return h.conns[h.slots[i]].due < h.conns[h.slots[j]].due
}

func (h *timers) swap(i, j int) {
	h.slots[i], h.slots[j] = h.slots[j], h.slots[i]
	h.conns[h.slots[i]].hidx = int32(i)
	h.conns[h.slots[j]].hidx = int32(j)
}

func (h *timers) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *timers) down(i int) {
	n := len(h.slots)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

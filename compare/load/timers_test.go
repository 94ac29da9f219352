package load

import (
	"math/rand/v2"
	"testing"
)

// TestTimers checks the heap against a plain map under random set, move
// and remove operations: pops come out in due order, each slot once.
func TestTimers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	conns := make([]conn, 64)
	for i := range conns {
		conns[i].hidx = -1
	}
	h := timers{conns: conns}
	want := map[int32]int64{}
	for range 5000 {
		slot := int32(rng.IntN(len(conns)))
		switch rng.IntN(4) {
		case 0:
			h.remove(slot)
			delete(want, slot)
		case 1:
			if h.len() > 0 {
				s := h.pop()
				for _, d := range want {
					if d < conns[s].due {
						t.Fatalf("popped due %d while %d was waiting", conns[s].due, d)
					}
				}
				delete(want, s)
			}
		default:
			due := rng.Int64N(1000)
			h.set(slot, due)
			want[slot] = due
		}
		if h.len() != len(want) {
			t.Fatalf("heap holds %d, want %d", h.len(), len(want))
		}
		for i, s := range h.slots {
			if conns[s].hidx != int32(i) {
				t.Fatalf("slot %d at %d thinks it is at %d", s, i, conns[s].hidx)
			}
			if i > 0 && conns[h.slots[(i-1)/2]].due > conns[s].due {
				t.Fatalf("heap order broken at %d", i)
			}
		}
	}
}

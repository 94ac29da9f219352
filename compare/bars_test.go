package compare

import "testing"

// One category far above the rest is cut, so the others stay legible;
// ordinary differences are not.
func TestBarsClipOutlier(t *testing.T) {
	bar := func(tops ...float64) *bars {
		b := &bars{categories: len(tops)}
		ser := barSeries{}
		for _, v := range tops {
			ser.segments = append(ser.segments, []float64{v * 0.8, v * 0.2})
		}
		b.series = []barSeries{ser}
		return b
	}
	b := bar(50, 13, 14, 12)
	b.clipOutlier()
	if b.clip < 20.99 || b.clip > 21.01 {
		t.Errorf("clip %v, want 1.5 × 14", b.clip)
	}
	if _, _, _, ymax := b.DataRange(); ymax != b.clip {
		t.Errorf("range top %v, want the clip %v", ymax, b.clip)
	}
	b = bar(30, 13, 14, 12)
	b.clipOutlier()
	if b.clip != 0 {
		t.Errorf("clipped at %v with no outlier", b.clip)
	}
	if _, _, _, ymax := b.DataRange(); ymax < 30 {
		t.Errorf("range top %v below the tallest bar", ymax)
	}
	if v := roundSig(49.649, 3); v != 49.6 {
		t.Errorf("roundSig = %v", v)
	}
}

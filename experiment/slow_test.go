package experiment

import (
	"strings"
	"testing"
	"time"
)

func TestWhyReadsTheMeasurement(t *testing.T) {
	target := SlowTarget{OneAfterOther: "SEQ", Together: "PAR"}
	d := time.Second
	for _, c := range []struct {
		first, second time.Duration
		want          string
	}{
		{d, 2 * d, "SEQ"},
		{d, 1900 * time.Millisecond, "SEQ"},
		{d, d, "PAR"},
		{d, 1400 * time.Millisecond, "PAR"},
		{d, 1600 * time.Millisecond, "partly overlapped"},
		{100 * time.Millisecond, 200 * time.Millisecond, "not applied"},
	} {
		if got := Why(c.first, c.second, d, target); !strings.Contains(got, c.want) {
			t.Errorf("Why(%s, %s) = %q, want it to say %q", c.first, c.second, got, c.want)
		}
	}
}

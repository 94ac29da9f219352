package compare

import (
	"slices"
	"testing"
)

func TestParseFormatCPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		out  string
	}{
		{"0", []int{0}, "0"},
		{"1,0", []int{0, 1}, "0-1"},
		{"0-3,6", []int{0, 1, 2, 3, 6}, "0-3,6"},
		{" 2 , 4-5,4", []int{2, 4, 5}, "2,4-5"},
	} {
		got, err := ParseCPUs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) || FormatCPUs(got) != tc.out {
			t.Errorf("ParseCPUs(%q) = %v, %v (formatted %q); want %v, %q", tc.in, got, err, FormatCPUs(got), tc.want, tc.out)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1-"} {
		if got, err := ParseCPUs(bad); err == nil {
			t.Errorf("ParseCPUs(%q) = %v", bad, got)
		}
	}
}

func TestSplitCPUs(t *testing.T) {
	for _, tc := range []struct {
		allowed, server, client []int
		shared                  bool
	}{
		{[]int{0}, []int{0}, []int{0}, true},
		{[]int{0, 1}, []int{0}, []int{1}, false},
		{[]int{0, 1, 2, 3}, []int{0, 1}, []int{2, 3}, false},
		{[]int{2, 5, 7}, []int{2}, []int{5, 7}, false},
	} {
		s, c, shared := SplitCPUs(tc.allowed)
		if !slices.Equal(s, tc.server) || !slices.Equal(c, tc.client) || shared != tc.shared {
			t.Errorf("SplitCPUs(%v) = %v, %v, %v", tc.allowed, s, c, shared)
		}
	}
	o := Options{ServerCPUs: []int{0}, ClientCPUs: []int{0}}
	if _, err := o.chooseCPUs([]int{0, 1}); err == nil {
		t.Error("overlapping CPU sets accepted on two CPUs")
	}
	o = Options{ServerCPUs: []int{7}}
	if _, err := o.chooseCPUs([]int{0, 1}); err == nil {
		t.Error("a CPU outside the allowed set accepted")
	}
	o = Options{}
	if shared, err := o.chooseCPUs([]int{3}); err != nil || !shared {
		t.Errorf("one CPU: shared %v, %v", shared, err)
	}
}

package experiment

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	in := "Name:\treadiness\nVmPeak:\t 1300000 kB\nVmRSS:\t    8192 kB\nRssAnon:\t    4096 kB\nThreads:\t7\n"
	s, err := parseStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS != 8192*1024 || s.Threads != 7 {
		t.Errorf("got %+v, want RSS 8 MiB and 7 threads", s)
	}
	for _, bad := range []string{"VmRSS:\t8192 kB\n", "Threads:\t3\n", "VmRSS:\tlots kB\nThreads:\t1\n", "VmRSS:\t12 MB\nThreads:\t1\n"} {
		if _, err := parseStatus(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestReadStatusOfThisProcess(t *testing.T) {
	s, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 || s.Threads < 1 {
		t.Errorf("this test process: %+v", s)
	}
}

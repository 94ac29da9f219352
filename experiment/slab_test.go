package experiment

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseSlabinfo(t *testing.T) {
	b, err := os.ReadFile("testdata/slabinfo")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSlabinfo(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SlabCache{
		"TCP":              {Active: 118, ObjSize: 2368},
		"TCPv6":            {Active: 26, ObjSize: 2496},
		"sock_inode_cache": {Active: 213, ObjSize: 832},
		"eventpoll_epi":    {Active: 21615, ObjSize: 128},
		"anon_vma_chain":   {Active: 984, ObjSize: 64},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}
	if len(got) != 8 {
		t.Errorf("%d caches, want the fixture's 8", len(got))
	}
}

func TestParseSlabinfoRejects(t *testing.T) {
	head := "slabinfo - version: 2.1\n# name <active_objs> ...\n"
	for name, text := range map[string]string{
		"empty":          "",
		"other version":  "slabinfo - version: 1.1\nTCP 1 1 2368 13 8\n",
		"short line":     head + "TCP 1 1\n",
		"not a number":   head + "TCP x 1 2368 13 8\n",
		"zero size":      head + "TCP 1 1 0 13 8\n",
		"negative count": head + "TCP -1 1 2368 13 8\n",
		"no caches":      head,
	} {
		if got, err := ParseSlabinfo([]byte(text)); err == nil {
			t.Errorf("%s: parsed as %v, want an error", name, got)
		}
	}
}

// TestKernelDelta builds a /sys/kernel/slab tree in which eventpoll_pwq is
// merged into the cache listed as anon_vma_chain, as SLUB does, and checks
// that its objects are read from that row.
func TestKernelDelta(t *testing.T) {
	sys := t.TempDir()
	for _, d := range []string{"TCP", "sock_inode_cache", "filp", "dentry", ":A-0000064", ":A-0000128"} {
		if err := os.Mkdir(filepath.Join(sys, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"eventpoll_pwq": ":A-0000064", "anon_vma_chain": ":A-0000064", "fs_cache": ":A-0000064",
		"eventpoll_epi": ":A-0000128", "tcp_bind_bucket": ":A-0000128",
	} {
		if err := os.Symlink(target, filepath.Join(sys, link)); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string]SlabCache{
		"TCP": {100, 2368}, "sock_inode_cache": {200, 832}, "filp": {800, 192}, "dentry": {5000, 192},
		"eventpoll_epi": {300, 128}, "anon_vma_chain": {900, 64},
	}
	after := map[string]SlabCache{
		"TCP": {300, 2368}, "sock_inode_cache": {400, 832}, "filp": {1000, 192}, "dentry": {5200, 192},
		"eventpoll_epi": {650, 128}, "anon_vma_chain": {1100, 64},
	}
	objs := kernelDelta(sys, before, after, 100)
	var names []string
	for _, k := range objs {
		names = append(names, k.Cache)
	}
	// TCPv6 is in neither tree: left out.
	if want := []string{"TCP", "sock_inode_cache", "filp", "dentry", "eventpoll_epi", "eventpoll_pwq"}; !slices.Equal(names, want) {
		t.Fatalf("caches %v, want %v", names, want)
	}
	pwq := objs[5]
	if pwq.Row != "anon_vma_chain" || pwq.Delta != 200 || pwq.ObjSize != 64 || pwq.PerConn != 2 ||
		!slices.Equal(pwq.MergedWith, []string{"anon_vma_chain", "fs_cache"}) {
		t.Errorf("eventpoll_pwq: %+v, want the anon_vma_chain row, 200 objects, 2 per connection, merged with anon_vma_chain and fs_cache", pwq)
	}
	if epi := objs[4]; epi.Row != "eventpoll_epi" || epi.PerConn != 3.5 || !slices.Equal(epi.MergedWith, []string{"tcp_bind_bucket"}) {
		t.Errorf("eventpoll_epi: %+v", epi)
	}
	if tcp := objs[0]; tcp.Row != "TCP" || tcp.MergedWith != nil || tcp.PerConn != 2 {
		t.Errorf("TCP: %+v", tcp)
	}
	wantBoth := float64(200*2368+200*832+200*192+200*192+350*128+200*64) / 100
	if got := kernelBytes(objs, 100); math.Abs(got-wantBoth) > 1e-9 {
		t.Errorf("both ends: %v bytes per connection, want %v", got, wantBoth)
	}
	if got, want := serverBytes(objs), float64(2368+832+192+192+128+64); got != want {
		t.Errorf("server's end: %v bytes, want %v", got, want)
	}
}

func TestKernelBytesCountsASharedRowOnce(t *testing.T) {
	objs := []KernelObjects{
		{Cache: "filp", Row: "filp", ObjSize: 192, Delta: 100},
		{Cache: "dentry", Row: "filp", ObjSize: 192, Delta: 100},
	}
	if got := kernelBytes(objs, 100); got != 192 {
		t.Errorf("%v bytes per connection, want 192: one row read twice is one delta", got)
	}
	if got := serverBytes(objs); got != 384 {
		t.Errorf("server's end %v, want 384: one object of each cache", got)
	}
}

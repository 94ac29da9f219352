package experiment

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ConnCaches are the kernel's slab caches that hold one end of an idle TCP
// connection: the socket (TCP, or TCPv6 for an IPv6 socket), its inode
// (sock_inode_cache), the open file and its dentry (filp, dentry), and the
// epoll registration: the item and the hook on the socket's wait queue
// (eventpoll_epi, eventpoll_pwq). Socket buffers are not among them: an
// idle connection has nothing queued.
var ConnCaches = []string{"TCP", "TCPv6", "sock_inode_cache", "filp", "dentry", "eventpoll_epi", "eventpoll_pwq"}

// SlabCache is one line of /proc/slabinfo.
type SlabCache struct {
	Active  int64 // objects in use
	ObjSize int64 // bytes per object
}

// ParseSlabinfo reads /proc/slabinfo's text (version 2.1): a version line,
// a header starting with '#', then one line per cache, "name active_objs
// num_objs objsize ...".
func ParseSlabinfo(b []byte) (map[string]SlabCache, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() {
		return nil, fmt.Errorf("slabinfo: empty")
	}
	if v := sc.Text(); !strings.HasPrefix(v, "slabinfo - version: 2.") {
		return nil, fmt.Errorf("slabinfo: %q: want version 2.x", v)
	}
	out := map[string]SlabCache{}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			return nil, fmt.Errorf("slabinfo: short line %q", line)
		}
		active, err1 := strconv.ParseInt(f[1], 10, 64)
		size, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || active < 0 || size <= 0 {
			return nil, fmt.Errorf("slabinfo: bad numbers in %q", line)
		}
		out[f[0]] = SlabCache{Active: active, ObjSize: size}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("slabinfo: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("slabinfo: no caches")
	}
	return out, nil
}

// slabRows finds the /proc/slabinfo line that counts each cache of names.
// SLUB merges caches of the same size and flags into one, listed once under
// one of their names; /sys/kernel/slab/NAME is then a link to the merged
// cache, shared by every name merged into it. For a merged cache the row's
// figures include the objects of every name it holds, and the aliases say
// which. A name with no row and no link is left out (its kernel lacks it).
func slabRows(sysSlab string, info map[string]SlabCache, names []string) (row map[string]string, aliases map[string][]string) {
	row, aliases = map[string]string{}, map[string][]string{}
	var links map[string]string // read at the first name that is a link
	for _, name := range names {
		target, err := os.Readlink(filepath.Join(sysSlab, name))
		if err != nil {
			if _, ok := info[name]; ok {
				row[name] = name // a cache of its own
			}
			continue
		}
		if links == nil {
			links = slabLinks(sysSlab)
		}
		var merged []string
		for n, t := range links {
			if t == target {
				merged = append(merged, n)
			}
		}
		sort.Strings(merged)
		for _, m := range merged {
			if _, ok := info[m]; ok {
				row[name] = m
				break
			}
		}
		if _, ok := row[name]; ok && len(merged) > 1 {
			aliases[name] = merged
		}
	}
	return row, aliases
}

// slabLinks maps each link in sysSlab to its target: the names that SLUB
// merged into another cache. It is empty when sysSlab cannot be read.
func slabLinks(sysSlab string) map[string]string {
	links := map[string]string{}
	entries, err := os.ReadDir(sysSlab)
	if err != nil {
		return links
	}
	for _, e := range entries {
		if t, err := os.Readlink(filepath.Join(sysSlab, e.Name())); err == nil {
			links[e.Name()] = t
		}
	}
	return links
}

// KernelObjects is what one slab cache gained while the idle connections
// were opened.
type KernelObjects struct {
	Cache   string `json:"cache"`
	Row     string `json:"slabinfo_row"` // the /proc/slabinfo line counted (differs when merged)
	ObjSize int64  `json:"objsize"`
	Delta   int64  `json:"active_delta"` // active objects after minus before
	// PerConn is Delta per connection: both ends of each loopback
	// connection, and anything else the machine allocated meanwhile.
	PerConn float64 `json:"per_conn"`
	// MergedWith lists the caches sharing Row, whose objects are counted
	// too.
	MergedWith []string `json:"merged_with,omitempty"`
}

// slabSnapshot reads /proc/slabinfo (root only on most kernels).
func slabSnapshot() (map[string]SlabCache, error) {
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return nil, err
	}
	return ParseSlabinfo(b)
}

// kernelDelta compares two slabinfo readings for ConnCaches, over conns
// connections.
func kernelDelta(sysSlab string, before, after map[string]SlabCache, conns int) []KernelObjects {
	rows, aliases := slabRows(sysSlab, after, ConnCaches)
	var out []KernelObjects
	for _, name := range ConnCaches {
		r, ok := rows[name]
		if !ok {
			continue
		}
		b, a := before[r], after[r]
		k := KernelObjects{Cache: name, Row: r, ObjSize: a.ObjSize, Delta: a.Active - b.Active}
		k.PerConn = float64(k.Delta) / float64(conns)
		for _, m := range aliases[name] {
			if m != name {
				k.MergedWith = append(k.MergedWith, m)
			}
		}
		out = append(out, k)
	}
	return out
}

// kernelBytes is the bytes the caches gained, per connection; a row that
// two of the caches share is counted once.
func kernelBytes(objs []KernelObjects, conns int) float64 {
	var sum int64
	seen := map[string]bool{}
	for _, k := range objs {
		if !seen[k.Row] {
			seen[k.Row] = true
			sum += k.Delta * k.ObjSize
		}
	}
	return float64(sum) / float64(conns)
}

// serverBytes is the kernel's memory for the server's end of one IPv4
// connection: one object of each cache but TCPv6 (one socket and its inode,
// one open file and its dentry, one epoll item and its wait-queue hook), at
// the object sizes measured. The count comes from what the server holds, not
// from the deltas, which also count the client's end and whatever else the
// machine allocated meanwhile; a delta near two objects per connection (one
// per end: the client is a Go program too, whose runtime registers each
// socket with its own epoll instance) confirms it.
func serverBytes(objs []KernelObjects) float64 {
	var sum int64
	for _, k := range objs {
		if k.Cache != "TCPv6" {
			sum += k.ObjSize
		}
	}
	return float64(sum)
}

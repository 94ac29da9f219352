package experiment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/readinesslab/readiness/internal/child"
	"github.com/readinesslab/readiness/internal/proc"
	"github.com/readinesslab/readiness/internal/proto"
)

// IdleTarget is one server of the idle-connections experiment.
type IdleTarget struct {
	Name string   // as shown
	Args []string // serve arguments: the model and its flags
}

// IdleConfig sets the idle experiment.
type IdleConfig struct {
	Exe   string // the readiness binary
	Conns int    // idle connections measured
	// Warmup connections are opened (and served) before the baseline is
	// taken, so one-time costs (the first buffers, the first goroutine
	// stacks, the runtime's first heap growth) are not charged per connection.
	Warmup int
	// Settle is the pause before each RSS reading, for the server to finish
	// the work the last connections caused.
	Settle time.Duration
	// Dialers bounds the connections being opened at once.
	Dialers int
	// PerSource is the most connections from one source address: each
	// 127.0.x.y address has its own ephemeral ports (about 28000 by default).
	PerSource int
	// Progress, when set, hears how far each server has got.
	Progress func(server string, open, total int)
}

// IdleRow is one server's result.
type IdleRow struct {
	Server        string  `json:"server"`
	Conns         int     `json:"conns"`
	OK            int     `json:"ok"` // connections answered 200 and held open
	RSSBefore     int64   `json:"rss_before_bytes"`
	RSSAfter      int64   `json:"rss_after_bytes"`
	BytesPerConn  float64 `json:"bytes_per_conn"`
	ThreadsBefore int     `json:"threads_before"`
	ThreadsAfter  int     `json:"threads_after"`
	OpenSeconds   float64 `json:"open_s"` // time to open and serve Conns connections

	// The kernel's side, from /proc/slabinfo read with each RSS reading;
	// nil, with KernelNote saying why, where it cannot be read.
	Kernel []KernelObjects `json:"kernel"`
	// KernelBytesPerConn is what the caches gained per connection: both
	// ends of each loopback connection, and whatever else the machine
	// allocated meanwhile.
	KernelBytesPerConn *float64 `json:"kernel_bytes_per_conn"`
	// ServerKernelBytesPerConn is the server's end alone (see serverBytes).
	ServerKernelBytesPerConn *float64 `json:"server_kernel_bytes_per_conn"`
	// TotalBytesPerConn is BytesPerConn plus ServerKernelBytesPerConn: what
	// one idle connection costs the server's machine.
	TotalBytesPerConn *float64 `json:"total_bytes_per_conn"`
	KernelNote        string   `json:"kernel_note,omitempty"`
}

// sysSlab is where SLUB shows which caches were merged.
const sysSlab = "/sys/kernel/slab"

func (c *IdleConfig) defaults() {
	if c.Warmup <= 0 {
		c.Warmup = 100
	}
	if c.Settle <= 0 {
		c.Settle = time.Second
	}
	if c.Dialers <= 0 {
		c.Dialers = 64
	}
	if c.PerSource <= 0 {
		c.PerSource = 20000
	}
}

// Idle measures each target in turn: start it, open Warmup connections,
// read its RSS and /proc/slabinfo, open Conns more idle keep-alive
// connections (one request each), read both again; the growth divided by
// Conns is the cost of one idle connection to the process, and to the
// kernel. The server is stopped before the client closes, so the
// TIME_WAIT states land on the server's side and the client's ports are
// free for the next target.
func Idle(cfg IdleConfig, targets []IdleTarget) ([]IdleRow, error) {
	cfg.defaults()
	if err := RaiseNoFile(uint64(cfg.Conns + cfg.Warmup + 1024)); err != nil {
		return nil, err
	}
	var rows []IdleRow
	for k, t := range targets {
		row, err := idleOnce(cfg, k, t)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", t.Name, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func idleOnce(cfg IdleConfig, k int, t IdleTarget) (row IdleRow, err error) {
	row = IdleRow{Server: t.Name, Conns: cfg.Conns}
	args := append(append([]string(nil), t.Args...),
		"-idle-timeout", "0", "-header-timeout", "0", "-max-conns", fmt.Sprint(cfg.Conns+cfg.Warmup+64))
	s, err := child.Start(context.Background(), cfg.Exe, args, child.Options{})
	if err != nil {
		return row, err
	}
	c := &idleClient{addr: s.Addr, third: byte(k%250 + 1), perSource: cfg.PerSource}
	defer func() {
		// Stop the server first: it closes every connection, so the TIME_WAIT
		// states are its own and the client's ports are free at once.
		if stopErr := s.Stop(); err == nil {
			err = stopErr
		}
		c.closeAll()
	}()
	if n, err := c.open(cfg.Warmup, cfg.Dialers, nil); err != nil {
		return row, fmt.Errorf("warm-up: %d of %d connections: %w", n, cfg.Warmup, err)
	}
	time.Sleep(cfg.Settle)
	before, err := readStatus(s.PID)
	if err != nil {
		return row, err
	}
	slabBefore, slabErr := slabSnapshot()
	progress := func(n int) {
		if cfg.Progress != nil {
			cfg.Progress(t.Name, n, cfg.Conns)
		}
	}
	began := time.Now()
	n, err := c.open(cfg.Conns, cfg.Dialers, progress)
	row.OK = n
	row.OpenSeconds = time.Since(began).Seconds()
	if err != nil {
		return row, fmt.Errorf("%d of %d connections: %w", n, cfg.Conns, err)
	}
	time.Sleep(cfg.Settle)
	after, err := readStatus(s.PID)
	if err != nil {
		return row, err
	}
	slabAfter, err := slabSnapshot()
	if slabErr == nil {
		slabErr = err
	}
	row.RSSBefore, row.RSSAfter = int64(before.RSS), int64(after.RSS)
	row.ThreadsBefore, row.ThreadsAfter = before.Threads, after.Threads
	row.BytesPerConn = float64(row.RSSAfter-row.RSSBefore) / float64(cfg.Conns)
	if slabErr != nil {
		row.KernelNote = fmt.Sprintf("kernel objects not counted: %v (/proc/slabinfo is readable by root only)", slabErr)
		return row, nil
	}
	row.Kernel = kernelDelta(sysSlab, slabBefore, slabAfter, cfg.Conns)
	if len(row.Kernel) == 0 {
		row.KernelNote = "kernel objects not counted: /proc/slabinfo lists none of " + strings.Join(ConnCaches, ", ")
		return row, nil
	}
	both, server := kernelBytes(row.Kernel, cfg.Conns), serverBytes(row.Kernel)
	total := row.BytesPerConn + server
	row.KernelBytesPerConn, row.ServerKernelBytesPerConn, row.TotalBytesPerConn = &both, &server, &total
	return row, nil
}

// readStatus reads a server's /proc/PID/status for its RSS and threads.
func readStatus(pid int) (proc.Status, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return proc.Status{}, err
	}
	return proc.ParseStatus(b)
}

// idleClient opens keep-alive connections from 127.0.third.2, .3, ... and
// holds them.
type idleClient struct {
	addr      string
	third     byte
	perSource int

	mu    sync.Mutex
	conns []net.Conn
}

// IdleRequest is the request each connection sends once.
const IdleRequest = "GET /idle HTTP/1.1\r\nHost: idle\r\n\r\n"

// open opens n more connections with at most dialers at a time, each sending
// one request and reading its 200, and returns how many succeeded.
func (c *idleClient) open(n, dialers int, progress func(int)) (int, error) {
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	base := len(c.conns)
	stop := make(chan struct{})
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				conn, err := c.dial(base + i)
				if err != nil {
					errOnce.Do(func() { firstErr = err; close(stop) })
					return
				}
				c.mu.Lock()
				c.conns = append(c.conns, conn)
				c.mu.Unlock()
				if d := done.Add(1); progress != nil && d%1000 == 0 {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	if progress != nil {
		progress(int(done.Load()))
	}
	return int(done.Load()), firstErr
}

func (c *idleClient) dial(i int) (net.Conn, error) {
	host := 2 + i/c.perSource
	if host > 254 {
		return nil, errors.New("out of source addresses: lower -conns")
	}
	src := &net.TCPAddr{IP: net.IPv4(127, 0, c.third, byte(host))}
	d := net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(proto.OK))
	if _, err = io.WriteString(conn, IdleRequest); err == nil {
		_, err = io.ReadFull(conn, got)
	}
	if err == nil && !bytes.Equal(got, proto.OK) {
		err = fmt.Errorf("response %q, want %q", got, proto.OK)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func (c *idleClient) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

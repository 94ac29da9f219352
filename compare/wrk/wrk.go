// Package wrk drives the system's wrk (https://github.com/wg/wrk) against
// a server and reads its report, so the lab's figures can be checked with
// a client nobody here wrote. Pipelining goes through a Lua script that
// makes wrk send the request N times in each write.
package wrk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// ErrNotInstalled is returned when wrk is not in PATH.
var ErrNotInstalled = errors.New("wrk is not installed: install it with apt-get install wrk")

// Config is one wrk run.
type Config struct {
	Addr     string        // HOST:PORT
	Conns    int           // -c
	Threads  int           // -t; at most Conns
	Pipeline int           // requests per write; 1 sends them one at a time
	Duration time.Duration // -d, rounded up to whole seconds: wrk counts in seconds
	Timeout  time.Duration // --timeout (default 2s)

	// Prefix, if set, is put in front of wrk's command line, such as
	// `ip netns exec NAME` to run it inside a network namespace. It must
	// exec wrk, so that the process started is wrk's.
	Prefix []string

	// OnStart, if set, is called with wrk's process id as soon as it runs.
	OnStart func(pid int)
}

// Seconds is the duration wrk is given for d: whole seconds, at least one.
func Seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Run runs wrk once and parses its report. The error is ErrNotInstalled
// when wrk is missing; on failure it carries what wrk printed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return nil, ErrNotInstalled
	}
	if cfg.Conns < 1 || cfg.Pipeline < 1 {
		return nil, fmt.Errorf("wrk: want at least one connection and a pipeline of at least 1, got %d and %d", cfg.Conns, cfg.Pipeline)
	}
	threads := min(max(cfg.Threads, 1), cfg.Conns)
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}

	dir, err := os.MkdirTemp("", "readiness-wrk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "pipeline.lua")
	if err := os.WriteFile(script, []byte(Script(cfg.Pipeline)), 0o644); err != nil {
		return nil, err
	}

	argv := append(append([]string(nil), cfg.Prefix...), path,
		"-t", strconv.Itoa(threads),
		"-c", strconv.Itoa(cfg.Conns),
		"-d", strconv.Itoa(Seconds(cfg.Duration))+"s",
		"--timeout", strconv.Itoa(Seconds(timeout))+"s",
		"--latency",
		"-s", script,
		"http://"+cfg.Addr+"/")
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("wrk: %w", err)
	}
	if cfg.OnStart != nil {
		cfg.OnStart(cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("wrk: %w: %s%s", err, stderr.Bytes(), stdout.Bytes())
	}
	r, err := Parse(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("wrk: %w in its output:\n%s", err, stdout.Bytes())
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
}

// Script is the Lua script given to wrk. wrk.init calls init and then
// builds the one request it sends from wrk.format; replacing wrk.format
// there makes that request the plain request repeated depth times, still
// a static buffer that wrk writes without calling Lua per request, and
// wrk counts the requests in it to know how many responses to await. done
// adds the percentile wrk's --latency table leaves out, and the maximum to
// the microsecond.
func Script(depth int) string {
	return fmt.Sprintf(`-- readiness compare: %d request(s) per write.
local depth = %d

function init(args)
   local one = wrk.format()
   wrk.format = function()
      return string.rep(one, depth)
   end
end

function done(summary, latency, requests)
   io.write(string.format("%s %%d %%d\n", latency:percentile(99.9), latency.max))
end
`, depth, depth, extraTag)
}

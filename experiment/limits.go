package experiment

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// RaiseNoFile makes sure this process, and the servers it starts after, may
// open need files: it raises the soft limit, and the hard limit where that
// is allowed (root). It always sets the limit, even when it is already high
// enough: Go's runtime raises its own soft limit at start but gives child
// processes the original one back unless the program sets the limit itself.
func RaiseNoFile(need uint64) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	want := lim
	if want.Cur < need {
		want.Cur = need
	}
	if want.Max < want.Cur {
		want.Max = want.Cur // allowed with CAP_SYS_RESOURCE only
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
		return fmt.Errorf("open-file limit %d (hard %d), %d needed: setrlimit: %w; raising the hard limit needs CAP_SYS_RESOURCE "+
			"(root outside a restricted container, or `ulimit -Hn %d` before starting); here about %d fds are left per process after the margin",
			lim.Cur, lim.Max, need, err, need, lim.Max)
	}
	return nil
}

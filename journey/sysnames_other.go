//go:build !amd64

package journey

// sysNames is empty off amd64: system calls are shown as "syscall_NR".
var sysNames = map[int64]string{}

// goAheadRead is unknown off amd64: the script starts at the client's
// first event.
const goAheadRead = -1

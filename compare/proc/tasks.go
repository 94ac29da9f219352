package proc

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"
)

// Tasks lists the thread ids of process pid.
func Tasks(pid int) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// TaskStatus reads /proc/PID/task/TID/status.
func TaskStatus(pid, tid int) (Status, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(tid), "status"))
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(b)
}

// atClockTick is AT_CLKTCK, the auxiliary vector entry holding the
// frequency of times(2) and of /proc's utime and stime.
const atClockTick = 17

// ClockTicks is sysconf(_SC_CLK_TCK): how many clock ticks make a second
// in /proc/PID/stat. It is read from the auxiliary vector the kernel gave
// this process; Linux has used 100 everywhere for decades, which is the
// answer when the vector cannot be read.
func ClockTicks() uint64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	if hz, ok := auxvValue(b, atClockTick); ok && hz > 0 {
		return hz
	}
	return 100
}

// auxvValue finds key in an auxiliary vector of native-endian word pairs.
func auxvValue(b []byte, key uint64) (uint64, bool) {
	word := int(unsafe.Sizeof(uintptr(0)))
	for len(b) >= 2*word {
		k, v := nativeWord(b[:word]), nativeWord(b[word:2*word])
		if k == 0 {
			break
		}
		if k == key {
			return v, true
		}
		b = b[2*word:]
	}
	return 0, false
}

func nativeWord(b []byte) uint64 {
	if len(b) == 4 {
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

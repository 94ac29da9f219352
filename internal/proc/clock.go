package proc

import (
	"encoding/binary"
	"os"
	"sync"
	"unsafe"
)

// atClockTick is AT_CLKTCK, the auxiliary vector entry holding the
// frequency of times(2) and of /proc's utime and stime.
const atClockTick = 17

// ClockTicks is sysconf(_SC_CLK_TCK): how many clock ticks make a second
// in /proc/PID/stat. It is read from the auxiliary vector the kernel gave
// this process, once: the vector does not change while the process runs.
// Linux has used 100 everywhere for decades, which is the answer when the
// vector cannot be read.
func ClockTicks() uint64 { return clockTicks() }

var clockTicks = sync.OnceValue(func() uint64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	if hz, ok := auxvValue(b, atClockTick); ok && hz > 0 {
		return hz
	}
	return 100
})

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

package netns

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Do runs f on an OS thread of its own switched into ns. A socket belongs to
// the namespace it was made in for its whole life, so sockets f creates
// (a listener, a client's connections) work from any goroutine afterwards.
// Other goroutines never run on that thread while it is in ns: it stays
// locked to f's goroutine, and if it cannot be switched back it is thrown
// away with that goroutine instead of returning to the scheduler.
func (ns NS) Do(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := enter(ns.Name)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		ferr := f()
		if err := unix.Setns(back, unix.CLONE_NEWNET); err != nil {
			// The thread is still in ns: leaving it locked makes the runtime
			// end it when this goroutine returns.
			unix.Close(back)
			done <- fmt.Errorf("setns back from %s: %w", ns.Name, err)
			return
		}
		unix.Close(back)
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

// enter switches the calling thread into the namespace called name and
// returns an fd of the namespace it was in.
func enter(name string) (back int, err error) {
	back, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("open /proc/thread-self/ns/net", err)
	}
	target, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(back)
		return -1, fmt.Errorf("open namespace %s: %w", name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		unix.Close(back)
		return -1, os.NewSyscallError("setns "+name, err)
	}
	return back, nil
}

// The legacy ethtool ioctls that get and set one offload: linux/ethtool.h
// and linux/sockios.h.
const (
	siocEthtool = 0x8946
	ethtoolGTSO = 0x1e
	ethtoolSTSO = 0x1f
	ethtoolGGRO = 0x2b
	ethtoolSGRO = 0x2c
)

type ethtoolValue struct {
	cmd  uint32
	data uint32
}

type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data *ethtoolValue // ifr_data
	_    [16]byte      // the rest of struct ifreq's union
}

// napiPath makes dev's packets take the veth's NAPI path in the calling
// thread's namespace. GRO on starts the device's NAPI context, where its
// peer's packets are queued and polled in the NET_RX softirq; TSO off keeps
// TCP's packets eligible for it: veth hands a TSO-sized packet to netif_rx
// and the per-CPU backlog instead, the path loopback takes.
func napiPath(dev string) error {
	if err := setOffload(dev, ethtoolSGRO, ethtoolGGRO, true); err != nil {
		return fmt.Errorf("GRO: %w", err)
	}
	if err := setOffload(dev, ethtoolSTSO, ethtoolGTSO, false); err != nil {
		return fmt.Errorf("TSO: %w", err)
	}
	return nil
}

// setOffload sets one offload through its set command and reads it back
// through its get command.
func setOffload(dev string, set, get uint32, on bool) error {
	v := ethtoolValue{cmd: set}
	if on {
		v.data = 1
	}
	if err := ethtool(dev, &v); err != nil {
		return err
	}
	v = ethtoolValue{cmd: get}
	if err := ethtool(dev, &v); err != nil {
		return err
	}
	if (v.data != 0) != on {
		return fmt.Errorf("%s is still %v", dev, v.data != 0)
	}
	return nil
}

func ethtool(dev string, v *ethtoolValue) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	var req ifreqData
	copy(req.name[:unix.IFNAMSIZ-1], dev)
	req.data = v
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocEthtool, uintptr(unsafe.Pointer(&req)))
	if errno != 0 {
		return os.NewSyscallError("ioctl SIOCETHTOOL", errno)
	}
	return nil
}

package netns

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needPair skips when this machine cannot make namespaces, saying why.
func needPair(t *testing.T) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skipf("no network namespaces here: %v", err)
	}
}

func namespaces(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	return string(out)
}

func TestPairCarriesTCPAndLeavesNothing(t *testing.T) {
	needPair(t)
	p, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Remove() })
	if list := namespaces(t); !strings.Contains(list, p.Server.Name) || !strings.Contains(list, p.Client.Name) {
		t.Fatalf("ip netns list does not show both namespaces:\n%s", list)
	}

	// A listener made in the server's namespace, a connection made in the
	// client's: the bytes cross the veth pair.
	var ln net.Listener
	if err := p.Server.Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(p.Server.Addr, "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("across"))
	}()
	var c net.Conn
	if err := p.Client.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "across" {
		t.Fatalf("read %q, %v; want %q", got, err, "across")
	}
	if local := c.LocalAddr().(*net.TCPAddr).IP.String(); local != p.Client.Addr {
		t.Errorf("the client's address is %s, want the client namespace's %s", local, p.Client.Addr)
	}

	// This process's own namespace has neither the server's address nor
	// the veth ends.
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond); err == nil {
		t.Error("the server's address is reachable from outside the pair")
	}
	if _, err := net.InterfaceByName(p.Server.Dev); err == nil {
		t.Errorf("%s is visible outside its namespace", p.Server.Dev)
	}

	// Both ends are on the NAPI path: GRO on, TSO off.
	for _, ns := range []NS{p.Server, p.Client} {
		err := ns.Do(func() error {
			gro, tso := ethtoolValue{cmd: ethtoolGGRO}, ethtoolValue{cmd: ethtoolGTSO}
			if err := ethtool(ns.Dev, &gro); err != nil {
				return err
			}
			if err := ethtool(ns.Dev, &tso); err != nil {
				return err
			}
			if gro.data == 0 || tso.data != 0 {
				t.Errorf("%s: GRO %d, TSO %d; want GRO on, TSO off", ns.Dev, gro.data, tso.data)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Prefix runs a command inside the namespace.
	argv := append(p.Server.Prefix(), "ip", "-o", "addr", "show", "dev", p.Server.Dev)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), p.Server.Addr) {
		t.Errorf("ip addr inside the server namespace: %v: %s", err, out)
	}

	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(); err != nil {
		t.Errorf("a second Remove: %v", err)
	}
	if list := namespaces(t); strings.Contains(list, p.Server.Name) || strings.Contains(list, p.Client.Name) {
		t.Errorf("namespaces left after Remove:\n%s", list)
	}
}

func TestCreateRefusesAnExistingName(t *testing.T) {
	needPair(t)
	name := "readiness-" + strconv.Itoa(os.Getpid()) + "-srv"
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	p, err := Create()
	if err == nil {
		p.Remove()
		t.Fatal("Create took over a namespace it did not make")
	}
	if !errors.Is(err, ErrExists) {
		t.Errorf("err = %v, want ErrExists", err)
	}
	// The namespace it did not make is still there.
	if !strings.Contains(namespaces(t), name) {
		t.Error("Create deleted a namespace it did not make")
	}
}

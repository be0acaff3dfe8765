package coordinator

import (
	"net/netip"
	"testing"
)

func TestHostVethName(t *testing.T) {
	a, b := HostVethName("ctr-a"), HostVethName("ctr-b")
	if len(a) != 15 || a == b || a != HostVethName("ctr-a") {
		t.Fatalf("HostVethName: %q, %q; want 15 characters, stable, distinct per sandbox", a, b)
	}
	if !IsHostVeth(a) || IsHostVeth("ens192") || IsHostVeth("ipkc") {
		t.Errorf("IsHostVeth disagrees with HostVethName")
	}
}

func TestVethOwner(t *testing.T) {
	for alias, want := range map[string]string{vethAlias("eth0"): "eth0", vethAlias("net1"): "net1", "": "", "someone else's": ""} {
		if got := vethOwner(alias); got != want {
			t.Errorf("vethOwner(%q) = %q, want %q", alias, got, want)
		}
	}
}

func TestMACFromPrefix(t *testing.T) {
	mac, err := MACFromPrefix("0a:1b", netip.MustParseAddr("10.6.168.101"))
	if err != nil || mac.String() != "0a:1b:0a:06:a8:65" {
		t.Errorf("MACFromPrefix = %v, %v; want 0a:1b:0a:06:a8:65", mac, err)
	}
	if _, err := MACFromPrefix("0a:1b", netip.MustParseAddr("fd00::1")); err == nil {
		t.Error("MACFromPrefix of an IPv6 address: no error")
	}
}

package ipnet

import (
	"math/big"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFree(t *testing.T) {
	tests := []struct {
		name     string
		subnet   string
		ips      []string
		exclude  []string
		reserved []string
		gateway  string
		want     []string
	}{
		{name: "v4 /24 drops network and broadcast", subnet: "10.6.168.0/24", ips: []string{"10.6.168.0-10.6.168.255"}, want: []string{"10.6.168.1-10.6.168.254"}},
		{name: "v4 /30", subnet: "10.6.168.0/30", ips: []string{"10.6.168.0-10.6.168.3"}, want: []string{"10.6.168.1-10.6.168.2"}},
		{name: "v4 /31 keeps both", subnet: "10.6.168.0/31", ips: []string{"10.6.168.0-10.6.168.1"}, want: []string{"10.6.168.0-10.6.168.1"}},
		{name: "v4 /32 keeps it", subnet: "10.6.168.7/32", ips: []string{"10.6.168.7"}, want: []string{"10.6.168.7"}},
		{name: "unmasked subnet", subnet: "10.6.168.77/24", ips: []string{"10.6.168.0-10.6.168.255"}, want: []string{"10.6.168.1-10.6.168.254"}},
		{name: "ips clipped to subnet", subnet: "10.6.168.0/24", ips: []string{"10.6.167.250-10.6.168.5", "10.6.169.1"}, want: []string{"10.6.168.1-10.6.168.5"}},
		{
			name: "gateway excluded", subnet: "10.6.168.0/24", ips: []string{"10.6.168.1-10.6.168.10"}, gateway: "10.6.168.1",
			want: []string{"10.6.168.2-10.6.168.10"},
		},
		{
			name: "gateway in the middle", subnet: "10.6.168.0/24", ips: []string{"10.6.168.1-10.6.168.10"}, gateway: "10.6.168.5",
			want: []string{"10.6.168.1-10.6.168.4", "10.6.168.6-10.6.168.10"},
		},
		{
			name: "exclude and reserved", subnet: "10.6.168.0/24", ips: []string{"10.6.168.1-10.6.168.20"},
			exclude: []string{"10.6.168.2-10.6.168.4"}, reserved: []string{"10.6.168.10", "10.6.168.20"},
			want: []string{"10.6.168.1", "10.6.168.5-10.6.168.9", "10.6.168.11-10.6.168.19"},
		},
		{
			name: "everything removed", subnet: "10.6.168.0/24", ips: []string{"10.6.168.1-10.6.168.3"},
			exclude: []string{"10.6.168.1"}, reserved: []string{"10.6.168.2"}, gateway: "10.6.168.3", want: nil,
		},
		{name: "no ips", subnet: "10.6.168.0/24", want: nil},
		{
			name: "v6 keeps subnet-router anycast", subnet: "fd00::/120", ips: []string{"fd00::-fd00::ff"}, gateway: "fd00::1",
			want: []string{"fd00::", "fd00::2-fd00::ff"},
		},
		{
			name: "v6 exclude and reserved", subnet: "fd00::/64", ips: []string{"fd00::10-fd00::20"},
			exclude: []string{"fd00::15"}, reserved: []string{"fd00::20"},
			want: []string{"fd00::10-fd00::14", "fd00::16-fd00::1f"},
		},
		{
			name: "other-family sets are ignored", subnet: "10.6.168.0/24", ips: []string{"10.6.168.1-10.6.168.5"},
			exclude: []string{"fd00::1"}, reserved: []string{"fd00::2"}, gateway: "fd00::3", want: []string{"10.6.168.1-10.6.168.5"},
		},
		{name: "ips of other family", subnet: "10.6.168.0/24", ips: []string{"fd00::1"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Pool{
				Subnet:   prefix(tt.subnet),
				IPs:      set(t, tt.ips...),
				Exclude:  set(t, tt.exclude...),
				Reserved: set(t, tt.reserved...),
			}
			if tt.gateway != "" {
				p.Gateway = addr(tt.gateway)
			}
			ipsBefore := p.IPs.String()
			got := p.Free()
			checkNormalised(t, got)
			if diff := cmp.Diff(tt.want, got.Entries()); diff != "" {
				t.Errorf("Free() mismatch (-want +got):\n%s", diff)
			}
			if p.IPs.String() != ipsBefore {
				t.Errorf("Free() changed IPs to %s", p.IPs)
			}
		})
	}
	t.Run("invalid subnet", func(t *testing.T) {
		p := Pool{IPs: set(t, "10.0.0.1")}
		if got := p.Free(); !got.IsEmpty() {
			t.Errorf("Free() = %s, want empty", got)
		}
	})
}

func TestCounts(t *testing.T) {
	n := func(v int64) *big.Int { return big.NewInt(v) }
	tests := []struct {
		name     string
		pool     Pool
		taken    Set
		want     Counts
		wantFree []string
	}{
		{
			name: "v4",
			pool: Pool{
				Subnet:   prefix("10.6.168.0/24"),
				IPs:      set(t, "10.6.168.0-10.6.168.99"),
				Exclude:  set(t, "10.6.168.90-10.6.168.99"),
				Reserved: set(t, "10.6.168.10-10.6.168.14", "10.6.168.95", "10.6.169.1"),
				Gateway:  addr("10.6.168.1"),
			},
			taken: set(t, "10.6.168.20-10.6.168.29"),
			// 100 ips, 10 excluded, 5 reserved (95 is already excluded),
			// 10 taken; free = 90 - 5 reserved - network - gateway - 10.
			want: Counts{Total: n(90), Reserved: n(5), Excluded: n(10), InUse: n(10), Free: n(73)},
		},
		{
			name:  "empty pool",
			pool:  Pool{Subnet: prefix("10.6.168.0/24")},
			want:  Counts{Total: n(0), Reserved: n(0), Excluded: n(0), InUse: n(0), Free: n(0)},
			taken: set(t, "10.6.168.1"),
		},
		{
			name: "v6 beyond 2^64",
			pool: Pool{
				Subnet:  prefix("fd00::/32"),
				IPs:     SetOf(prefix("fd00::/32")),
				Exclude: SetOf(prefix("fd00::/64")),
				Gateway: addr("fd00:0:0:1::1"),
			},
			taken: set(t, "fd00:0:0:1::2-fd00:0:0:1::3"),
			want: Counts{
				Total:    new(big.Int).Sub(pow2(96), pow2(64)),
				Reserved: n(0),
				Excluded: pow2(64),
				InUse:    n(2),
				Free:     new(big.Int).Sub(pow2(96), new(big.Int).Add(pow2(64), n(3))),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.pool.Counts(tt.taken)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
				t.Errorf("Counts() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFreeZeroGateway(t *testing.T) {
	p := Pool{Subnet: prefix("10.0.0.0/30"), IPs: SetOf(prefix("10.0.0.0/30")), Gateway: netip.Addr{}}
	if got := p.Free().String(); got != "10.0.0.1-10.0.0.2" {
		t.Errorf("Free() = %s", got)
	}
}

package spiderpool

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		want    AutoPoolRequest
		asked   bool
		wantErr string // substring; the error must also name the annotation key
		errKey  string
	}{
		{name: "no annotation", ann: map[string]string{"other": "x"}},
		{
			name:  "seed 004",
			ann:   map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":["nginx-subnet-v4"]}`, "ipam.spidernet.io/ippool-ip-number": "+3"},
			asked: true,
			want:  AutoPoolRequest{Interfaces: []AutoPoolInterface{{Name: "eth0", IPv4: "nginx-subnet-v4"}}, Size: PoolSize{N: 3, Relative: true}, Reclaim: true},
		},
		{
			name:  "single, dual stack, named interface, fixed size, keep",
			ann:   map[string]string{"ipam.spidernet.io/subnet": `{"interface":"net1","ipv4":["s4"],"ipv6":["s6"]}`, "ipam.spidernet.io/ippool-ip-number": "5", "ipam.spidernet.io/ippool-reclaim": "false"},
			asked: true,
			want:  AutoPoolRequest{Interfaces: []AutoPoolInterface{{Name: "net1", IPv4: "s4", IPv6: "s6"}}, Size: PoolSize{N: 5}, Reclaim: false},
		},
		{
			name:  "defaults: +1 and reclaim",
			ann:   map[string]string{"ipam.spidernet.io/subnet": `{"ipv6":["s6"]}`},
			asked: true,
			want:  AutoPoolRequest{Interfaces: []AutoPoolInterface{{Name: "eth0", IPv6: "s6"}}, Size: DefaultPoolSize, Reclaim: true},
		},
		{
			name:  "multi by position",
			ann:   map[string]string{"ipam.spidernet.io/subnets": `[{"ipv4":["a"]},{"ipv4":["b"],"ipv6":["c"]},{"ipv6":["d"]}]`},
			asked: true,
			want: AutoPoolRequest{Interfaces: []AutoPoolInterface{{Name: "eth0", IPv4: "a"}, {Name: "net1", IPv4: "b", IPv6: "c"}, {Name: "net2", IPv6: "d"}},
				Size: DefaultPoolSize, Reclaim: true},
		},
		{
			name:  "multi named, wins over single",
			ann:   map[string]string{"ipam.spidernet.io/subnets": `[{"interface":"net2","ipv4":["a"]},{"interface":"eth0","ipv4":["b"]}]`, "ipam.spidernet.io/subnet": `{"ipv4":["x"]}`},
			asked: true,
			want:  AutoPoolRequest{Interfaces: []AutoPoolInterface{{Name: "net2", IPv4: "a"}, {Name: "eth0", IPv4: "b"}}, Size: DefaultPoolSize, Reclaim: true},
		},
		{name: "bad JSON", ann: map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":`}, asked: true, errKey: "ipam.spidernet.io/subnet", wantErr: "not valid JSON"},
		{name: "trailing data", ann: map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":["a"]} x`}, asked: true, errKey: "ipam.spidernet.io/subnet", wantErr: "trailing data"},
		{name: "no subnet", ann: map[string]string{"ipam.spidernet.io/subnet": `{"interface":"eth0"}`}, asked: true, errKey: "ipam.spidernet.io/subnet", wantErr: "names no SpiderSubnet"},
		{name: "two subnets", ann: map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":["a","b"]}`}, asked: true, errKey: "ipam.spidernet.io/subnet", wantErr: "exactly one"},
		{name: "empty name", ann: map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":[" "]}`}, asked: true, errKey: "ipam.spidernet.io/subnet", wantErr: "empty SpiderSubnet"},
		{name: "empty list", ann: map[string]string{"ipam.spidernet.io/subnets": `[]`}, asked: true, errKey: "ipam.spidernet.io/subnets", wantErr: "empty list"},
		{name: "mixed naming", ann: map[string]string{"ipam.spidernet.io/subnets": `[{"interface":"eth0","ipv4":["a"]},{"ipv4":["b"]}]`}, asked: true, errKey: "ipam.spidernet.io/subnets", wantErr: "set on 1 of 2 entries"},
		{name: "interface twice", ann: map[string]string{"ipam.spidernet.io/subnets": `[{"interface":"eth0","ipv4":["a"]},{"interface":"eth0","ipv4":["b"]}]`}, asked: true, errKey: "ipam.spidernet.io/subnets", wantErr: `"eth0" appears twice`},
		{name: "entry without subnet", ann: map[string]string{"ipam.spidernet.io/subnets": `[{"ipv4":["a"]},{}]`}, asked: true, errKey: "ipam.spidernet.io/subnets", wantErr: "entry 1: names no SpiderSubnet"},
		{name: "bad size", ann: map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":["a"]}`, "ipam.spidernet.io/ippool-ip-number": "three"}, asked: true, errKey: "ipam.spidernet.io/ippool-ip-number", wantErr: `"three" is not a size`},
		{name: "bad reclaim", ann: map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":["a"]}`, "ipam.spidernet.io/ippool-reclaim": "keep"}, asked: true, errKey: "ipam.spidernet.io/ippool-reclaim", wantErr: `"keep" is not a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, asked, err := ParseAutoPoolRequest(tt.ann)
			if asked != tt.asked {
				t.Errorf("asked = %v, want %v", asked, tt.asked)
			}
			if tt.wantErr != "" {
				var ae *AnnotationError
				if !errors.As(err, &ae) || ae.Key != tt.errKey || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.errKey) {
					t.Fatalf("error = %v, want an AnnotationError for %s containing %q", err, tt.errKey, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    PoolSize
		wantErr bool
	}{
		{in: "", want: PoolSize{N: 1, Relative: true}},
		{in: "5", want: PoolSize{N: 5}},
		{in: " 5 ", want: PoolSize{N: 5}},
		{in: "+3", want: PoolSize{N: 3, Relative: true}},
		{in: "+0", want: PoolSize{N: 0, Relative: true}},
		{in: "0", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "++1", wantErr: true},
		{in: "+", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "99999999999", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePoolSize(tt.in)
			if tt.wantErr != (err != nil) {
				t.Fatalf("ParsePoolSize(%q) = %v, %v", tt.in, got, err)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("ParsePoolSize(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSizeFor(t *testing.T) {
	tests := []struct {
		size     PoolSize
		replicas int64
		want     uint64
	}{
		{PoolSize{N: 3, Relative: true}, 2, 5},
		{PoolSize{N: 3, Relative: true}, 0, 3},
		{PoolSize{N: 1, Relative: true}, -4, 1},
		{PoolSize{N: 2}, 10, 2},
		{PoolSize{N: 0, Relative: true}, 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.size.String(), func(t *testing.T) {
			if got := tt.size.For(tt.replicas); got != tt.want {
				t.Errorf("%s.For(%d) = %d, want %d", tt.size, tt.replicas, got, tt.want)
			}
		})
	}
}

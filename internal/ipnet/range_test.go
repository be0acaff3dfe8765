package ipnet

import (
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Range
		wantErr []string // substrings the error must contain
	}{
		{name: "single v4", in: "10.6.168.101", want: Range{addr("10.6.168.101"), addr("10.6.168.101")}},
		{name: "single v6", in: "fd00::1", want: Range{addr("fd00::1"), addr("fd00::1")}},
		{name: "v4 range", in: "10.6.168.101-10.6.168.110", want: Range{addr("10.6.168.101"), addr("10.6.168.110")}},
		{name: "v6 range", in: "fd00::1-fd00::1:0", want: Range{addr("fd00::1"), addr("fd00::1:0")}},
		{name: "one-address range", in: "10.0.0.1-10.0.0.1", want: Range{addr("10.0.0.1"), addr("10.0.0.1")}},
		{name: "spaces trimmed", in: "  10.0.0.1 - 10.0.0.3\t", want: Range{addr("10.0.0.1"), addr("10.0.0.3")}},
		{name: "whole v4 space", in: "0.0.0.0-255.255.255.255", want: Range{addr("0.0.0.0"), addr("255.255.255.255")}},
		{
			name:    "reversed",
			in:      "10.6.168.110-10.6.168.101",
			wantErr: []string{`"10.6.168.110-10.6.168.101"`, "range start is after its end", `"first-last" with first <= last`},
		},
		{name: "mixed families", in: "10.6.168.1-fd00::1", wantErr: []string{`"10.6.168.1-fd00::1"`, "range mixes IPv4 and IPv6"}},
		{name: "garbage", in: "foo", wantErr: []string{`"foo"`, "not an IP address or range", `want "10.6.168.101" or "10.6.168.101-10.6.168.110"`}},
		{name: "empty", in: "", wantErr: []string{`""`, "empty entry"}},
		{name: "only spaces", in: "   ", wantErr: []string{`"   "`, "empty entry"}},
		{name: "cidr is not a range", in: "10.0.0.0/24", wantErr: []string{`"10.0.0.0/24"`, "not an IP address"}},
		{name: "dangling dash", in: "10.0.0.1-", wantErr: []string{`"10.0.0.1-"`, "not an IP address"}},
		{name: "three parts", in: "10.0.0.1-10.0.0.2-10.0.0.3", wantErr: []string{`"10.0.0.1-10.0.0.2-10.0.0.3"`}},
		{name: "zone", in: "fe80::1%eth0", wantErr: []string{`"fe80::1%eth0"`, "zoned"}},
		{name: "zone with dash", in: "fe80::1%br-1", wantErr: []string{`"fe80::1%br-1"`, "zoned"}},
		{name: "zone in range", in: "fe80::1-fe80::2%eth0", wantErr: []string{"zoned"}},
		{name: "v4-mapped v6", in: "::ffff:10.0.0.1", wantErr: []string{`"::ffff:10.0.0.1"`, "IPv4-mapped", "10.0.0.1"}},
		{name: "v4-mapped end", in: "::1-::ffff:10.0.0.1", wantErr: []string{"IPv4-mapped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseRange(%q) = %v, want error", tt.in, got)
				}
				for _, sub := range tt.wantErr {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not contain %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRange(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseRange(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRangeString(t *testing.T) {
	tests := []struct {
		r    Range
		want string
	}{
		{Range{addr("10.0.0.1"), addr("10.0.0.1")}, "10.0.0.1"},
		{Range{addr("10.0.0.1"), addr("10.0.0.9")}, "10.0.0.1-10.0.0.9"},
		{Range{addr("fd00::1"), addr("fd00::ff")}, "fd00::1-fd00::ff"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseRange(tt.want)
			if err != nil || back != tt.r {
				t.Errorf("ParseRange(%q) = %v, %v; want %v", tt.want, back, err, tt.r)
			}
		})
	}
}

package cni

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

func TestParseNetConf(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     *NetConf
		wantIPs  []string // addresses of the parsed prevResult
		wantCode uint     // 0: success
	}{
		{
			name: "defaults",
			in:   `{"cniVersion":"1.0.0","name":"macvlan-ens192","ipam":{"type":"spiderpool"}}`,
			want: &NetConf{
				CNIVersion: "1.0.0",
				Name:       "macvlan-ens192",
				IPAM:       IPAMConf{Type: "spiderpool", SocketPath: agentapi.DefaultSocketPath},
			},
		},
		{
			name: "every ipam key set, unknown keys ignored",
			in: `{"cniVersion":"0.3.1","name":"n","type":"macvlan","master":"ens192",
				"ipam":{"type":"spiderpool","log_level":"DEBUG","log_file_path":"/var/log/x",
				"default_ipv4_ippool":["v4-a","v4-b"],"default_ipv6_ippool":["v6"],
				"clean_gateway":true,"ipam_unix_socket_path":"/run/x.sock"}}`,
			want: &NetConf{
				CNIVersion: "0.3.1",
				Name:       "n",
				IPAM: IPAMConf{
					Type:             "spiderpool",
					DefaultIPv4Pools: []string{"v4-a", "v4-b"},
					DefaultIPv6Pools: []string{"v6"},
					CleanGateway:     true,
					SocketPath:       "/run/x.sock",
				},
			},
		},
		{
			name: "valid attachments",
			in: `{"cniVersion":"1.1.0","name":"n","ipam":{"type":"spiderpool"},
				"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}`,
			want: &NetConf{
				CNIVersion:       "1.1.0",
				Name:             "n",
				IPAM:             IPAMConf{Type: "spiderpool", SocketPath: agentapi.DefaultSocketPath},
				ValidAttachments: []types.GCAttachment{{ContainerID: "c1", IfName: "eth0"}},
			},
		},
		{
			name: "attachments under the key of the first 1.1.0 draft",
			in: `{"cniVersion":"1.1.0","name":"n","ipam":{"type":"spiderpool"},
				"cni.dev/attachments":[{"containerID":"c1","ifname":"eth0"}]}`,
			want: &NetConf{
				CNIVersion:        "1.1.0",
				Name:              "n",
				IPAM:              IPAMConf{Type: "spiderpool", SocketPath: agentapi.DefaultSocketPath},
				ValidAttachments:  []types.GCAttachment{{ContainerID: "c1", IfName: "eth0"}},
				LegacyAttachments: []types.GCAttachment{{ContainerID: "c1", IfName: "eth0"}},
			},
		},
		{
			name: "prevResult in 0.4.0",
			in: `{"cniVersion":"0.4.0","name":"n","ipam":{"type":"spiderpool"},
				"prevResult":{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.6.168.101/16","gateway":"10.6.0.1"}]}}`,
			wantIPs: []string{"10.6.168.101/16"},
		},
		{
			name: "prevResult in 1.0.0, dual stack",
			in: `{"cniVersion":"1.0.0","name":"n","ipam":{"type":"spiderpool"},
				"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.6.168.101/16"},{"address":"fd00::101/64"}]}}`,
			wantIPs: []string{"10.6.168.101/16", "fd00::101/64"},
		},
		{name: "not JSON", in: `{"cniVersion":`, wantCode: types.ErrDecodingFailure},
		{name: "pools not a list", in: `{"name":"n","ipam":{"default_ipv4_ippool":"p1"}}`, wantCode: types.ErrDecodingFailure},
		{name: "empty pool name", in: `{"name":"n","ipam":{"default_ipv6_ippool":["p6"," "]}}`, wantCode: types.ErrInvalidNetworkConfig},
		{
			name:     "garbage prevResult",
			in:       `{"cniVersion":"1.0.0","name":"n","prevResult":{"ips":[{"address":"nope"}]}}`,
			wantCode: types.ErrDecodingFailure,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetConf([]byte(tt.in))
			if tt.wantCode != 0 {
				var cniErr *types.Error
				if !errors.As(err, &cniErr) || cniErr.Code != tt.wantCode {
					t.Fatalf("ParseNetConf() error = %v, want code %d", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseNetConf() error = %v", err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(NetConf{}, "RawPrevResult", "PrevResult")); diff != "" {
					t.Errorf("ParseNetConf() mismatch (-want +got):\n%s", diff)
				}
			}
			if tt.wantIPs != nil {
				if got.PrevResult == nil {
					t.Fatal("PrevResult is nil")
				}
				var ips []string
				for _, ip := range got.PrevResult.IPs {
					ips = append(ips, ip.Address.String())
				}
				if diff := cmp.Diff(tt.wantIPs, ips); diff != "" {
					t.Errorf("prevResult addresses mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

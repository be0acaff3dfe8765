package cni

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cniError asserts err is a *types.Error with one of codes and a message.
func assertCNIError(t *testing.T, what string, err error, codes ...uint) {
	t.Helper()
	var e *types.Error
	if !errors.As(err, &e) || e.Msg == "" {
		t.Fatalf("%s: error %v is not a CNI error with a message", what, err)
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("%s: error code %d (%v), want one of %v", what, e.Code, err, codes)
}

// The netconf is whatever the runtime or the main plugin passes. Whatever the
// bytes: no panic; a refusal is a CNI error of code 6 (cannot decode) or 7
// (invalid); what is accepted has a socket and no empty pool name, is
// accepted again once written back out, and is accepted by DEL too (DEL
// reads less, so it can never refuse what ADD took).
func FuzzParseNetConf(f *testing.F) {
	for _, seed := range []string{
		`{"cniVersion":"1.0.0","name":"macvlan-ens192","ipam":{"type":"spiderpool"}}`,
		`{"cniVersion":"0.3.1","name":"n","ipam":{"type":"spiderpool","default_ipv4_ippool":["a"],"default_ipv6_ippool":["b"],"clean_gateway":true,"ipam_unix_socket_path":"/run/x.sock"}}`,
		`{"cniVersion":"1.1.0","name":"n","ipam":{"type":"spiderpool"},"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}`,
		`{"cniVersion":"1.0.0","name":"n","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.6.168.101/16"}]}}`,
		`{"cniVersion":"0.4.0","name":"n","prevResult":{"ips":[{"version":"4","address":"nope"}]}}`,
		`{"name":"n","ipam":{"default_ipv4_ippool":"p1"}}`, `{"name":"n","ipam":{"default_ipv4_ippool":[" "]}}`,
		`{"cniVersion":`, `{} {}`, `null`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		conf, err := ParseNetConf(data)
		if err != nil {
			assertCNIError(t, "ParseNetConf", err, types.ErrDecodingFailure, types.ErrInvalidNetworkConfig)
			return
		}
		if conf.IPAM.SocketPath == "" {
			t.Fatal("accepted netconf has no socket path")
		}
		for _, p := range append(append([]string{}, conf.IPAM.DefaultIPv4Pools...), conf.IPAM.DefaultIPv6Pools...) {
			if strings.TrimSpace(p) == "" {
				t.Fatalf("accepted netconf holds an empty pool name: %+v", conf.IPAM)
			}
		}
		if (conf.RawPrevResult != nil) != (conf.PrevResult != nil) {
			t.Fatalf("prevResult given %v, parsed %v", conf.RawPrevResult != nil, conf.PrevResult != nil)
		}
		out, err := json.Marshal(conf)
		if err != nil {
			t.Fatalf("marshal accepted netconf: %v", err)
		}
		again, err := ParseNetConf(out)
		if err != nil {
			t.Fatalf("netconf written back %s is refused: %v", out, err)
		}
		// An empty list and none are one thing once written out (omitempty).
		if diff := cmp.Diff(conf, again, cmpopts.EquateEmpty(), cmp.FilterPath(func(p cmp.Path) bool {
			return p.String() == "PrevResult" || p.String() == "RawPrevResult"
		}, cmp.Ignore())); diff != "" {
			t.Fatalf("netconf changed on a round trip (-first +again):\n%s", diff)
		}
		del, err := ParseNetConfForDel(data)
		if err != nil {
			t.Fatalf("DEL refuses a netconf ADD accepted: %v", err)
		}
		if del.Name != conf.Name || del.IPAM.SocketPath != conf.IPAM.SocketPath {
			t.Fatalf("DEL read name %q socket %q, ADD %q %q", del.Name, del.IPAM.SocketPath, conf.Name, conf.IPAM.SocketPath)
		}
	})
}

// DEL's netconf parser: a refusal is code 6; what it accepts always has a
// socket to call.
func FuzzParseNetConfForDel(f *testing.F) {
	for _, seed := range []string{`{"name":"n","prevResult":{"ips":[{"address":"nope"}]}}`, `{"name":"n","ipam":{"ipam_unix_socket_path":"/x"}}`, `{`, `1`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		conf, err := ParseNetConfForDel(data)
		if err != nil {
			assertCNIError(t, "ParseNetConfForDel", err, types.ErrDecodingFailure)
			return
		}
		if conf.IPAM.SocketPath == "" {
			t.Fatal("accepted netconf has no socket path")
		}
	})
}

// CNI_ARGS is "K1=V1;K2=V2" from the runtime. Strict parsing (ADD, CHECK)
// refuses with code 4 and a message, and what it accepts names the pod and
// survives being written back out; lenient parsing (DEL) never refuses and
// agrees with strict parsing wherever that accepts.
func FuzzParsePodRef(f *testing.F) {
	for _, seed := range []string{
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=1234",
		"K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;", "K8S_POD_NAMESPACE=ns;garbage;K8S_POD_NAME=p", "=x", ";;", "", "K8S_POD_NAME=a=b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, args string) {
		lenient, err := ParsePodRef(args, true)
		if err != nil {
			t.Fatalf("lenient ParsePodRef(%q) = %v; DEL must never fail on CNI_ARGS", args, err)
		}
		strict, err := ParsePodRef(args, false)
		if err != nil {
			assertCNIError(t, "ParsePodRef", err, types.ErrInvalidEnvironmentVariables)
			return
		}
		if strict.Namespace == "" || strict.Name == "" {
			t.Fatalf("accepted CNI_ARGS %q without a pod: %+v", args, strict)
		}
		if strict != lenient {
			t.Fatalf("strict %+v, lenient %+v for %q", strict, lenient, args)
		}
		again, err := ParsePodRef(argNS+strict.Namespace+";"+argN+strict.Name+";"+argUID+strict.UID, false)
		if err != nil || again != strict {
			t.Fatalf("pod %+v written back out parsed as %+v, %v", strict, again, err)
		}
	})
}

const (
	argNS  = argPodNamespace + "="
	argN   = argPodName + "="
	argUID = argPodUID + "="
)

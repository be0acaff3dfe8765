package cni

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// NetConf is the part of the network configuration the plugin reads. The
// runtime (or the main plugin delegating IPAM to us) passes the whole
// netconf; everything not named here is ignored.
type NetConf struct {
	// CNIVersion is the spec version the result must be printed in.
	CNIVersion string `json:"cniVersion"`
	// Name is the network's name; the agent records it with each allocation.
	Name string `json:"name"`
	// IPAM is the "ipam" section.
	IPAM IPAMConf `json:"ipam"`
	// RawPrevResult is the previous result, given on CHECK and DEL.
	RawPrevResult map[string]any `json:"prevResult,omitempty"`
	// ValidAttachments lists the attachments still in use, given on GC.
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments,omitempty"`
	// LegacyAttachments is the key spec 1.1.0 first used for
	// ValidAttachments; libcni sends both.
	LegacyAttachments []types.GCAttachment `json:"cni.dev/attachments,omitempty"`

	// PrevResult is RawPrevResult parsed, nil when there is none.
	PrevResult *current.Result `json:"-"`
}

// IPAMConf is the "ipam" section, with upstream Spiderpool's key names so
// existing network attachments work unchanged. Upstream knows more keys (log
// levels and the like); they are accepted and ignored.
type IPAMConf struct {
	// Type is the plugin's type, "spiderpool".
	Type string `json:"type"`
	// DefaultIPv4Pools are the IPv4 pools to use when neither the pod nor
	// its namespace names one.
	DefaultIPv4Pools []string `json:"default_ipv4_ippool,omitempty"`
	// DefaultIPv6Pools is the same for IPv6.
	DefaultIPv6Pools []string `json:"default_ipv6_ippool,omitempty"`
	// CleanGateway asks for no default route on this interface.
	CleanGateway bool `json:"clean_gateway,omitempty"`
	// SocketPath is where the agent listens; agentapi.DefaultSocketPath
	// when empty.
	SocketPath string `json:"ipam_unix_socket_path,omitempty"`
}

// ParseNetConfForDel decodes only what DEL uses (the network's name and the
// agent's socket): a previous result or pool list DEL does not need can
// never keep a sandbox from being torn down.
func ParseNetConfForDel(data []byte) (*NetConf, error) {
	var conf struct {
		Name string `json:"name"`
		IPAM struct {
			SocketPath string `json:"ipam_unix_socket_path,omitempty"`
		} `json:"ipam"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "decode network configuration", err.Error())
	}
	out := &NetConf{}
	out.Name, out.IPAM.SocketPath = conf.Name, conf.IPAM.SocketPath
	if out.IPAM.SocketPath == "" {
		out.IPAM.SocketPath = agentapi.DefaultSocketPath
	}
	return out, nil
}

// ParseNetConf decodes the netconf the plugin got on stdin, fills in the
// defaults and parses the previous result, if any. Errors are *types.Error
// with the spec's codes: 6 for what cannot be decoded, 7 for what is invalid.
func ParseNetConf(data []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "decode network configuration", err.Error())
	}
	if conf.IPAM.SocketPath == "" {
		conf.IPAM.SocketPath = agentapi.DefaultSocketPath
	}
	if conf.ValidAttachments == nil {
		conf.ValidAttachments = conf.LegacyAttachments
	}
	if err := validatePools(conf.IPAM); err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "invalid ipam configuration", err.Error())
	}
	if conf.RawPrevResult != nil {
		prev, err := parsePrevResult(conf)
		if err != nil {
			return nil, types.NewError(types.ErrDecodingFailure, "decode prevResult", err.Error())
		}
		conf.PrevResult = prev
	}
	return conf, nil
}

func validatePools(ipam IPAMConf) error {
	for key, pools := range map[string][]string{
		"default_ipv4_ippool": ipam.DefaultIPv4Pools,
		"default_ipv6_ippool": ipam.DefaultIPv6Pools,
	} {
		for _, pool := range pools {
			if strings.TrimSpace(pool) == "" {
				return fmt.Errorf("%s holds an empty pool name", key)
			}
		}
	}
	return nil
}

// parsePrevResult turns the raw previous result, written in the netconf's
// spec version, into a current result.
func parsePrevResult(conf *NetConf) (*current.Result, error) {
	raw, err := json.Marshal(conf.RawPrevResult)
	if err != nil {
		return nil, err
	}
	res, err := version.NewResult(conf.CNIVersion, raw)
	if err != nil {
		return nil, err
	}
	return current.NewResultFromResult(res)
}

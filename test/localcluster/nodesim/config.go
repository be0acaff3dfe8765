// Package nodesim is the node simulator of the local cluster: the network half
// of a kubelet for one simulated node. It registers the Node and keeps it
// Ready (status and Lease), watches the pods bound to it, and for each pod
// makes a network namespace and runs the CNI chain (the node's default
// network as eth0, Multus-style additional networks as net1 …) with the
// node's namespace as the host side; it then writes the pod status and the
// network-status annotation as kubelet and Multus would, and on deletion runs
// CNI DEL, removes the namespace and completes the deletion. It keeps one
// record per sandbox so that a restart adopts existing sandboxes.
//
// This package may import the standard library, client-go, apimachinery,
// containernetworking/cni and /plugins, logr, api/nad/v1 and
// test/localcluster/nsmount. It must not import test/localcluster or any
// ipkeeper component: it is driven only through the API server and CNI.
package nodesim

import (
	"errors"
	"path/filepath"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

// Config configures one node simulator.
type Config struct {
	Kubeconfig  string         // admin kubeconfig; the API server is reached from the root netns
	Node        string         // node name
	NodeIP      string         // the node's underlay address (InternalIP, hostIP)
	NodeNetNS   string         // path of the node's network namespace
	StateDir    string         // sandbox records
	NetNSDir    string         // where sandbox namespaces are pinned (/run/netns)
	NetNSPrefix string         // prefix of sandbox namespace names
	CNIBinDirs  []string       // plugin search path
	CNIConfDir  string         // the node's /etc/cni/net.d
	CNICacheDir string         // libcni result cache (the node's /var/lib/cni)
	Binds       []nsmount.Bind // applied first; requires a private mount namespace
	Workers     int            // concurrent sandbox operations
	MaxPods     int            // the node's pod capacity
}

// Defaults of the optional fields.
const (
	DefaultWorkers = 8
	DefaultMaxPods = 250
)

func (c *Config) setDefaults() {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxPods <= 0 {
		c.MaxPods = DefaultMaxPods
	}
	if c.NetNSDir == "" {
		c.NetNSDir = nsmount.DefaultDir
	}
	if c.NetNSPrefix == "" {
		c.NetNSPrefix = "nodesim-" + c.Node + "-"
	}
}

func (c *Config) validate() error {
	switch {
	case c.Node == "":
		return errors.New("no node name")
	case c.NodeIP == "":
		return errors.New("no node IP")
	case c.NodeNetNS == "":
		return errors.New("no node network namespace")
	case !filepath.IsAbs(c.StateDir):
		return errors.New("state dir must be an absolute path")
	case len(c.CNIBinDirs) == 0:
		return errors.New("no CNI plugin directory")
	case c.CNIConfDir == "" || c.CNICacheDir == "":
		return errors.New("no CNI configuration or cache directory")
	}
	return nil
}

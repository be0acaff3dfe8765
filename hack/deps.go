//go:build tools

// Package deps keeps the pinned libraries in go.mod until code imports them.
package deps
import (
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/yaml"
	_ "github.com/containernetworking/cni/pkg/skel"
	_ "github.com/containernetworking/cni/libcni"
	_ "github.com/containernetworking/plugins/pkg/ns"
	_ "github.com/vishvananda/netlink"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/go-logr/logr"
)

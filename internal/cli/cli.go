// Package cli is `kubectl ipkeeper`, the operator's view of ipkeeper: how full
// the pools are (pools), who holds an address (who-has), why a pod has the
// addresses it has or none (pod), whether anything is leaked or doubled
// (check), and freeing a leaked address (release).
//
// Every command reads the cluster with the kubectl flags of cli-runtime
// (--kubeconfig, --context, -n …) and prints a table, or JSON/YAML with -o.
// It reuses the product's pure rules rather than restating them: pool
// arithmetic from internal/ipnet and internal/spiderpool, the agent's pool
// choice from internal/ipam (Select, pure), the invariants from
// internal/audit, the agents' configuration file from internal/config. It imports those, the API types, client-go,
// controller-runtime's client, cobra, cli-runtime and the standard library;
// nothing imports it but cmd/kubectl-ipkeeper.
package cli

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// Exit statuses: check's findings are 1; a failure to check at all is 2.
const (
	ExitFindings = 1
	ExitFailed   = 2
)

// ExitError carries a command's exit status.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the process exit status for err: nil is 0, an ExitError its
// code, anything else ExitFailed.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailed
}

// options are what every command shares.
type options struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	output  string
	// newClient builds the client; tests replace nothing here, they point
	// --kubeconfig at a real API server.
	client client.Client
}

// NewCommand is the root command, `kubectl ipkeeper`.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-ipkeeper",
		Short: "Inspect and repair ipkeeper's address management",
		Long: `kubectl ipkeeper answers the questions of whoever runs ipkeeper: how full
the pools are, who holds an address, why a pod has no address, and whether any
address is leaked or held twice.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ipkeeper"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.flags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&o.output, "output", "o", "table", "output format: table, wide, json or yaml")
	root.AddCommand(newPoolsCommand(o), newWhoHasCommand(o), newPodCommand(o), newCheckCommand(o), newReleaseCommand(o), newUnquarantineCommand(o))
	return root
}

// scheme knows every type the commands read.
func scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, v2beta1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

// kube returns the client for the flags' cluster.
func (o *options) kube() (client.Client, error) {
	if o.client != nil {
		return o.client, nil
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	s, err := scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("connect to the API server: %w", err)
	}
	o.client = c
	return c, nil
}

// namespace is -n, else the kubeconfig context's namespace, else default.
func (o *options) namespace() (string, error) {
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("namespace: %w", err)
	}
	return ns, nil
}

// checkOutput refuses an unknown -o.
func (o *options) checkOutput() error {
	switch o.output {
	case "table", "wide", "json", "yaml":
		return nil
	}
	return fmt.Errorf("-o %q: unknown output format (table, wide, json or yaml)", o.output)
}

// addressCommand is the start of a command on one address: -o is known, IP
// parses (an IPv4-mapped address as IPv4), and the API server is reachable.
func (o *options) addressCommand(ip string) (netip.Addr, client.Client, error) {
	if err := o.checkOutput(); err != nil {
		return netip.Addr{}, nil, err
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}, nil, fmt.Errorf("IP %q: not an IPv4 or IPv6 address", ip)
	}
	c, err := o.kube()
	return a.Unmap(), c, err
}

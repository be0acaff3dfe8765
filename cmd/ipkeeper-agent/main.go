// Command ipkeeper-agent is the node agent: it answers the spiderpool CNI
// plugin on a unix socket and records allocations in the API server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ipkeeper/ipkeeper/internal/agent"
	"github.com/ipkeeper/ipkeeper/internal/config"
)

func main() {
	var o agent.Options
	var configPath string
	flag.StringVar(&configPath, "config", "", "configuration file shared with the controller (conf.yml of the chart's ConfigMap); empty means the defaults")
	flag.StringVar(&o.Node, "node-name", os.Getenv("NODE_NAME"), "name of the node this agent serves (env NODE_NAME)")
	flag.StringVar(&o.Socket, "socket", "", "unix socket the CNI plugin connects to; empty means the configuration's ipamUnixSocketPath")
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":5711", "address of /metrics; 0 disables it")
	flag.StringVar(&o.HealthAddr, "health-probe-bind-address", ":5712", "address of /healthz and /readyz")
	flag.StringVar(&o.PprofAddr, "pprof-bind-address", "0", "address of Go's /debug/pprof (profiling); 0 disables it")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(ctrl.SetupSignalHandler(), configPath, o); err != nil {
		ctrl.Log.Error(err, "Agent stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, configPath string, o agent.Options) error {
	var err error
	if o.Config, err = config.Load(configPath); err != nil {
		return err
	}
	if o.Socket == "" {
		o.Socket = o.Config.IPAMUnixSocketPath
	}
	opts, err := agent.ManagerOptions(o)
	if err != nil {
		return fmt.Errorf("--node-name (or env NODE_NAME): %w", err)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), opts)
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := agent.Setup(ctx, mgr, o); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

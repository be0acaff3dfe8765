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
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

func main() {
	var o agent.Options
	flag.StringVar(&o.Node, "node-name", os.Getenv("NODE_NAME"), "name of the node this agent serves (env NODE_NAME)")
	flag.StringVar(&o.Socket, "socket", agentapi.DefaultSocketPath, "unix socket the CNI plugin connects to")
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":5711", "address of /metrics; 0 disables it")
	flag.StringVar(&o.HealthAddr, "health-probe-bind-address", ":5712", "address of /healthz and /readyz")
	flag.BoolVar(&o.EnableStatefulSet, "enable-statefulset", true, "StatefulSet pods keep their addresses across restarts")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "Agent stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o agent.Options) error {
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

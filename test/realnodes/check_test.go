//go:build e2e

package realnodes

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ipkeeper/ipkeeper/internal/cli"
	"github.com/ipkeeper/ipkeeper/test/framework"
)

// checkNothingLeakedOrDoubled: once every earlier subtest's namespace is
// gone, `kubectl ipkeeper check` finds nothing on the real nodes: no
// duplicate, no claim without its pod past the GC window, endpoints, claims
// and pool counts agreeing.
func checkNothingLeakedOrDoubled(t *testing.T, env *framework.Env) {
	env.WaitFor(t, 3*time.Minute, "earlier tests' namespaces gone", func(ctx context.Context) (bool, error) {
		list, err := env.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "ipkeeper.io/test=true"})
		return err == nil && len(list.Items) == 0, nil
	})
	var out bytes.Buffer
	// The GC frees what a deleted namespace's pods left within its scan
	// period; pool counts follow within a second.
	err := wait.PollUntilContextTimeout(t.Context(), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		out.Reset()
		cmd := cli.NewCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
		cmd.SetArgs([]string{"--kubeconfig", env.Kubeconfig, "check"})
		return cli.ExitCode(cmd.ExecuteContext(ctx)) == 0, nil
	})
	if err != nil {
		t.Errorf("kubectl ipkeeper check is not clean after 2 minutes: %s", out.String())
		return
	}
	t.Logf("kubectl ipkeeper check: %s", out.String())
}

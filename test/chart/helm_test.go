//go:build e2e

// Package chart tests the Helm chart charts/ipkeeper: helm lint, the objects
// helm template renders for each profile of values, the schema's refusal of
// values ipkeeper does not implement, and a server-side dry run of every
// profile's manifests against a real kube-apiserver. Run with `make test-e2e`.
//
// The helm binary comes from IPKEEPER_HELM or hack/build-helm.sh (built once
// per machine). Tests only: this package imports test/cluster, apimachinery
// and the standard library, and nothing imports it.
package chart

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

const (
	release   = "ipkeeper"
	namespace = "kube-system"
)

var (
	helmOnce sync.Once
	helmPath string
	errHelm  error
)

// repoRoot is the repository root, found as every harness package finds it.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "ipkeeper") }

// helm returns the helm binary: IPKEEPER_HELM, else the last line that
// hack/build-helm.sh prints.
func helm(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() { helmPath, errHelm = localcluster.Helm(repoRoot(t)) })
	if errHelm != nil {
		t.Fatal(errHelm)
	}
	return helmPath
}

// runHelm runs helm and returns stdout, stderr and the error.
func runHelm(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), helm(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No user configuration or repositories leak into the test.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// template renders the chart with args and returns the manifest.
func template(t testing.TB, args ...string) string {
	t.Helper()
	out, stderr, err := runHelm(t, append([]string{"template", release, chartDir(t), "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr)
	}
	return out
}

// parse splits a multi-document manifest into objects.
func parse(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("read rendered manifest: %v", err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("parse rendered manifest: %v\n%s", err, doc)
		}
		if string(js) == "null" {
			continue // only comments
		}
		// UnmarshalJSON keeps integers int64, as the API machinery does.
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(js); err != nil {
			t.Fatalf("parse rendered object: %v\n%s", err, doc)
		}
		objs = append(objs, o)
	}
}

// rendered is one profile's objects, by kind and name.
type rendered struct {
	manifest string
	objs     []*unstructured.Unstructured
}

func render(t testing.TB, args ...string) rendered {
	t.Helper()
	m := template(t, args...)
	return rendered{manifest: m, objs: parse(t, m)}
}

// get returns the object of kind and name, failing when there is none.
func (r rendered) get(t testing.TB, kind, name string) *unstructured.Unstructured {
	t.Helper()
	if o := r.find(kind, name); o != nil {
		return o
	}
	t.Fatalf("no %s %q rendered; have %v", kind, name, r.names())
	return nil
}

func (r rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r rendered) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendered) names() []string {
	var out []string
	for _, o := range r.objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The Makefile's release build gives the same bytes from the same source:
// once in the checkout with the usual build cache, once from a copy of the
// source at another path with an empty build cache, so that nothing of the
// first build can be reused and no path of either can leak into the binaries.
// It builds for the host's architecture only: a cold build for each takes
// minutes, and cross-compiling is the same compiler with another GOARCH.
func TestBinariesReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries twice, once from an empty build cache (minutes)")
	}
	for _, cmd := range []string{"make", "git"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("no %s: %v", cmd, err)
		}
	}
	root := repoRoot(t)
	platform := Platform{OS: "linux", Arch: runtime.GOARCH}
	first, second := t.TempDir(), t.TempDir()

	makeBuild(t, root, first, nil)
	src := copySource(t, root)
	makeBuild(t, src, second, []string{"GOCACHE=" + t.TempDir()})

	dir1, dir2 := platform.binDir(first), platform.binDir(second)
	entries, err := os.ReadDir(dir1)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("the first build wrote no binary")
	}
	for _, e := range entries {
		a, err := os.ReadFile(filepath.Join(dir1, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir2, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the two builds differ (%d and %d bytes)", e.Name(), len(a), len(b))
		}
	}
}

// makeBuild runs the Makefile's build-linux in dir for the host's platform.
func makeBuild(t *testing.T, dir, out string, env []string) {
	t.Helper()
	start := time.Now()
	// The same stamp for both (ipkeeper_build_info's version and revision):
	// the copy has no git history to describe.
	cmd := exec.Command("make", "--no-print-directory", "-C", dir, "build-linux",
		"LINUX_BIN="+out, "IMAGE_PLATFORMS=linux/"+runtime.GOARCH,
		"VERSION=v0.0.0-reproducible", "REVISION=0123456789abcdef0123456789abcdef01234567")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build-linux in %s: %v\n%s", dir, err, out)
	}
	t.Logf("make build-linux in %s: %s", dir, time.Since(start).Round(time.Second))
}

// copySource copies the checkout's files, committed or not (what git does not
// ignore), to a new directory.
func copySource(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		info, err := os.Lstat(filepath.Join(root, name))
		if os.IsNotExist(err) || (err == nil && !info.Mode().IsRegular()) {
			continue // deleted in the work tree, or a link
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

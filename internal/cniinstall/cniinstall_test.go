package cniinstall

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// plugin returns a tiny executable that prints word.
func plugin(word string) []byte {
	return []byte("#!/bin/sh\necho " + word + "\n")
}

func write(t *testing.T, path string, content []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, content, perm); err != nil {
		t.Fatal(err)
	}
}

// run executes path and returns what it printed.
func run(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(path).Output()
	if err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

func assertInstalled(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != mode {
		t.Errorf("%s has mode %v, want %v", path, info.Mode(), mode)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestInstallIntoEmptyDir(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "spiderpool"), plugin("spiderpool"), 0o644)
	write(t, filepath.Join(src, "coordinator"), plugin("coordinator"), 0o600)
	if err := os.Mkdir(filepath.Join(src, "not-a-plugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("spiderpool", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}

	results, err := Install(src, dst)
	if err != nil {
		t.Fatal(err)
	}

	if len(results) != 2 {
		t.Fatalf("installed %+v, want coordinator and spiderpool only", results)
	}
	for _, r := range results {
		if !r.Changed {
			t.Errorf("%s: Changed = false in an empty dir", r.Name)
		}
		assertInstalled(t, r.Path, plugin(r.Name))
		if got := run(t, r.Path); got != r.Name {
			t.Errorf("%s printed %q", r.Path, got)
		}
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 2 {
		t.Errorf("dst holds %d entries, want 2", len(entries))
	}
}

func TestInstallReplacesOldBinary(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	target := filepath.Join(dst, "spiderpool")
	write(t, target, plugin("old"), 0o755)
	write(t, filepath.Join(src, "spiderpool"), plugin("new"), 0o755)
	if got := run(t, target); got != "old" {
		t.Fatalf("before: %q", got)
	}

	results, err := Install(src, dst)
	if err != nil {
		t.Fatal(err)
	}

	if len(results) != 1 || !results[0].Changed {
		t.Errorf("results %+v, want spiderpool changed", results)
	}
	assertInstalled(t, target, plugin("new"))
	if got := run(t, target); got != "new" {
		t.Errorf("after: %q", got)
	}
	assertNoTempFiles(t, dst)
}

// A restarted init container must not rewrite what is already in place.
func TestInstallSkipsIdenticalContent(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "spiderpool"), plugin("same"), 0o755)
	if _, err := Install(src, dst); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dst, "spiderpool")
	before, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}

	results, err := Install(src, dst)
	if err != nil {
		t.Fatal(err)
	}

	if len(results) != 1 || results[0].Changed {
		t.Errorf("results %+v, want spiderpool unchanged", results)
	}
	after, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the unchanged binary was replaced by a new file")
	}
}

func TestInstallFixesModeOfIdenticalContent(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "spiderpool"), plugin("same"), 0o755)
	write(t, filepath.Join(dst, "spiderpool"), plugin("same"), 0o644)

	results, err := Install(src, dst)
	if err != nil {
		t.Fatal(err)
	}

	if len(results) != 1 || !results[0].Changed {
		t.Errorf("results %+v, want spiderpool changed", results)
	}
	assertInstalled(t, filepath.Join(dst, "spiderpool"), plugin("same"))
}

// failingReader yields its content and then an error, like a source whose
// read fails half-way.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

func TestInterruptedCopyKeepsOldBinary(t *testing.T) {
	dst := t.TempDir()
	target := filepath.Join(dst, "spiderpool")
	write(t, target, plugin("old"), 0o755)
	broken := errors.New("source went away")
	half := plugin("new")[:8]

	err := replace(target, &failingReader{r: bytes.NewReader(half), err: broken})

	if !errors.Is(err, broken) {
		t.Fatalf("replace = %v, want the source's error", err)
	}
	if !strings.Contains(err.Error(), target) {
		t.Errorf("error %q does not name %s", err, target)
	}
	assertInstalled(t, target, plugin("old"))
	if got := run(t, target); got != "old" {
		t.Errorf("after the failed copy: %q", got)
	}
	assertNoTempFiles(t, dst)
}

// A destination file system that fills up during the copy is a real
// interruption of Install: a tmpfs smaller than the new binary.
func TestFullDestinationKeepsOldBinary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	src, dst := t.TempDir(), t.TempDir()
	if err := syscall.Mount("tmpfs", dst, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dst, 0); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
	target := filepath.Join(dst, "spiderpool")
	write(t, target, plugin("old"), 0o755)
	big := append(plugin("new"), bytes.Repeat([]byte("#\n"), 64<<10)...)
	write(t, filepath.Join(src, "spiderpool"), big, 0o755)

	_, err := Install(src, dst)

	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Install = %v, want ENOSPC", err)
	}
	assertInstalled(t, target, plugin("old"))
	if got := run(t, target); got != "old" {
		t.Errorf("after the failed copy: %q", got)
	}
	assertNoTempFiles(t, dst)
}

func TestInstallRemovesLeftovers(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "spiderpool"), plugin("new"), 0o755)
	write(t, filepath.Join(dst, tempPrefix+"spiderpool-1234"), plugin("ne"), 0o600)
	write(t, filepath.Join(dst, "macvlan"), plugin("macvlan"), 0o755)

	if _, err := Install(src, dst); err != nil {
		t.Fatal(err)
	}

	assertNoTempFiles(t, dst)
	assertInstalled(t, filepath.Join(dst, "macvlan"), plugin("macvlan"))
}

// The kubelet may be executing the old plugin while it is replaced. Writing
// over a running executable fails with ETXTBSY; replacing it by rename does
// not, and the running process is untouched.
func TestReplaceWhileOldBinaryRuns(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	elf, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := t.TempDir(), t.TempDir()
	target := filepath.Join(dst, "spiderpool")
	write(t, target, elf, 0o755)
	write(t, filepath.Join(src, "spiderpool"), plugin("new"), 0o755)
	old := exec.Command(target, "60")
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = old.Process.Kill()
		_ = old.Wait()
	})

	if _, err := Install(src, dst); err != nil {
		t.Fatal(err)
	}

	if got := run(t, target); got != "new" {
		t.Errorf("after: %q", got)
	}
	if err := old.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the old binary's process is gone: %v", err)
	}
}

func TestInstallErrorsNamePaths(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := Install(missing, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Install from a missing dir = %v, want an error naming %s", err, missing)
	}
	src := t.TempDir()
	write(t, filepath.Join(src, "spiderpool"), plugin("new"), 0o755)
	_, err = Install(src, missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Install into a missing dir = %v, want an error naming %s", err, missing)
	}
}

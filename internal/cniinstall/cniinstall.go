// Package cniinstall puts CNI plugin binaries onto a node. The agent
// DaemonSet's init container runs it to copy the plugins its image carries
// (spiderpool, later coordinator) into the host's CNI bin dir, where the
// kubelet's container runtime executes them.
//
// A plugin may be executed at any moment, also while it is being installed, so
// a binary appears at its final name only whole: it is written to a temporary
// file in the destination directory and renamed over the target. A restarted
// init container finds the same content in place and writes nothing.
//
// Standard library only: the installer ships in the agent's image and must not
// pull the agent's dependencies into its own binary.
package cniinstall

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the name of every temporary file the installer writes, so
// that a later run can tell the leftovers of an interrupted one. It is hidden
// and cannot be the name of a plugin a network configuration refers to.
const tempPrefix = ".ipkeeper-install-"

// mode is the permission of an installed plugin.
const mode os.FileMode = 0o755

// Result says what Install did with one file.
type Result struct {
	// Name is the file's base name, the same in both directories.
	Name string
	// Path is the installed file.
	Path string
	// Changed is false when Path already had the content and mode.
	Changed bool
	// SHA256 is the hex digest of the content.
	SHA256 string
}

// Install installs every regular file of srcDir into dstDir under the same
// name. It first removes the temporary files an interrupted earlier run left
// in dstDir. It stops at the first error; files installed before it stay
// installed, each one whole.
func Install(srcDir, dstDir string) ([]Result, error) {
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return nil, fmt.Errorf("read source dir: %w", err)
	}
	if err := removeLeftovers(dstDir); err != nil {
		return nil, err
	}
	var results []Result
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		r, err := installFile(filepath.Join(srcDir, e.Name()), filepath.Join(dstDir, e.Name()))
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// installFile installs src at dst unless dst already has its content and mode.
func installFile(src, dst string) (Result, error) {
	r := Result{Name: filepath.Base(dst), Path: dst}
	f, err := os.Open(src)
	if err != nil {
		return r, fmt.Errorf("open source: %w", err)
	}
	defer f.Close()
	want, err := digest(f)
	if err != nil {
		return r, fmt.Errorf("hash source: %w", err)
	}
	r.SHA256 = fmt.Sprintf("%x", want)
	if same, err := installed(dst, want); err != nil || same {
		return r, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return r, fmt.Errorf("rewind source: %w", err)
	}
	if err := replace(dst, f); err != nil {
		return r, err
	}
	r.Changed = true
	return r, nil
}

// installed reports whether path is a regular file with the given digest and
// the installed mode. A missing file is not an error.
func installed(path string, sum []byte) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open installed file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat installed file: %w", err)
	}
	if !info.Mode().IsRegular() || info.Mode().Perm() != mode {
		return false, nil
	}
	have, err := digest(f)
	if err != nil {
		return false, fmt.Errorf("hash installed file: %w", err)
	}
	return bytes.Equal(have, sum), nil
}

func digest(r io.Reader) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// replace puts the content of r at path in one step: a process executing path
// sees either the old file or the new one, never a part. Whatever fails, path
// is left as it was and the temporary file is removed.
func replace(path string, r io.Reader) error {
	if err := writeAndRename(path, r); err != nil {
		return fmt.Errorf("install %s: %w", path, err)
	}
	return nil
}

func writeAndRename(path string, r io.Reader) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, r); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is on disk.
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeLeftovers removes the temporary files of interrupted earlier runs.
// One installer runs per node at a time (the init container of the node's
// agent pod), so any such file is a leftover.
func removeLeftovers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read destination dir: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove leftover: %w", err)
		}
	}
	return nil
}

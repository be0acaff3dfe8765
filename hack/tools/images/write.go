package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Built is one image for one platform as written.
type Built struct {
	Ref      string
	Platform Platform
	Digest   v1.Hash
	// Compressed is the size of the layers as pulled, Uncompressed unpacked.
	Compressed, Uncompressed int64
	// Tarball is the docker-archive file `ctr images import` loads.
	Tarball string
}

// Written is one image as written: its index and its platforms.
type Written struct {
	Ref       string
	Index     v1.Hash
	Platforms []Built
}

// Build writes every spec for every platform under out: the image indexes
// into the OCI layout out/oci (replaced whole) and one docker-archive per
// image and platform, out/<name>-<version>-<arch>.tar.
func Build(specs []Spec, platforms []Platform, bin, out string, m Meta) ([]Written, error) {
	ociDir := filepath.Join(out, "oci")
	if err := os.RemoveAll(ociDir); err != nil {
		return nil, err
	}
	// The docker-archives of earlier versions would only pile up.
	for _, s := range specs {
		stale, err := filepath.Glob(filepath.Join(out, s.Name+"-*.tar"))
		if err != nil {
			return nil, err
		}
		for _, f := range stale {
			if err := os.Remove(f); err != nil {
				return nil, err
			}
		}
	}
	lp, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("create oci layout: %w", err)
	}
	var written []Written
	for _, s := range specs {
		w, err := write(lp, s, platforms, bin, out, m)
		if err != nil {
			return nil, err
		}
		written = append(written, w)
	}
	return written, nil
}

func write(lp layout.Path, s Spec, platforms []Platform, bin, out string, m Meta) (Written, error) {
	ref := m.Ref(s)
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return Written{}, fmt.Errorf("image name: %w", err)
	}
	idx, imgs, err := index(s, platforms, bin, m)
	if err != nil {
		return Written{}, err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
		"io.containerd.image.name":          ref,
	})); err != nil {
		return Written{}, fmt.Errorf("write %s to the oci layout: %w", ref, err)
	}
	w := Written{Ref: ref}
	if w.Index, err = idx.Digest(); err != nil {
		return Written{}, err
	}
	for i, img := range imgs {
		p := platforms[i]
		b := Built{Ref: ref, Platform: p, Tarball: filepath.Join(out, fmt.Sprintf("%s-%s-%s.tar", s.Name, m.Version, p.Arch))}
		if err := writeTarball(b.Tarball, tag, img); err != nil {
			return Written{}, err
		}
		if b.Digest, err = img.Digest(); err != nil {
			return Written{}, err
		}
		if b.Compressed, b.Uncompressed, err = sizes(img); err != nil {
			return Written{}, err
		}
		w.Platforms = append(w.Platforms, b)
	}
	return w, nil
}

// writeTarball writes img tagged tag as a docker-archive at file. A reader
// never sees a part: the file is complete before it has its name.
func writeTarball(file string, tag name.Tag, img v1.Image) error {
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := tarball.Write(tag, img, f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// sizes are the sum of img's layers compressed (what a pull transfers) and
// uncompressed (about what the node stores).
func sizes(img v1.Image) (compressed, uncompressed int64, err error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return 0, 0, err
		}
		compressed += n
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, 0, err
		}
		n, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, 0, err
		}
		uncompressed += n
	}
	return compressed, uncompressed, nil
}

package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec is one image: static binaries on an empty base.
type Spec struct {
	// Name is the repository's last element, and the image's title.
	Name string
	// Files are the image's files; each is a binary of the bin dir.
	Files []File
	// Entrypoint is what the image runs.
	Entrypoint []string
	// User is the config's user; empty means root.
	User string
	// FixedRef, when set, is the image's name instead of Repo/Name:Version:
	// the name manifests use for the local cluster's stand-ins (pause,
	// nginx), which are never pushed anywhere.
	FixedRef string
}

// File places the binary named Binary at Path in the image.
type File struct {
	Path   string
	Binary string
}

// nonRoot is the uid:gid of an image whose process needs no privilege, the
// one distroless images call nonroot.
const nonRoot = "65532:65532"

// images is what `make images` builds. Adding an image is adding an entry
// (and its binary to the Makefile's IMAGE_BINARIES).
var images = []Spec{
	{
		Name: "ipkeeper-agent",
		Files: []File{
			{Path: "/ipkeeper-agent", Binary: "ipkeeper-agent"},
			{Path: "/ipkeeper-cni-installer", Binary: "ipkeeper-cni-installer"},
			{Path: "/opt/ipkeeper/cni/spiderpool", Binary: "spiderpool"},
			{Path: "/opt/ipkeeper/cni/coordinator", Binary: "coordinator"},
		},
		Entrypoint: []string{"/ipkeeper-agent"},
	},
	{
		Name:       "ipkeeper-controller",
		Files:      []File{{Path: "/ipkeeper-controller", Binary: "ipkeeper-controller"}},
		Entrypoint: []string{"/ipkeeper-controller"},
		User:       nonRoot,
	},
	// The local cluster's real nodes pull nothing: their sandbox image and the
	// seeds' nginx are these stand-ins, imported under the names that
	// containerd's sandbox_image and the seeds' manifests use (one archive
	// per name: an archive with several names lists them in random order).
	{
		Name:       "pause",
		Files:      []File{{Path: "/pause", Binary: "pause"}},
		Entrypoint: []string{"/pause"},
		FixedRef:   "registry.k8s.io/pause:3.10",
	},
	{
		Name:       "nginx",
		Files:      []File{{Path: "/webserver", Binary: "webserver"}},
		Entrypoint: []string{"/webserver"},
		FixedRef:   "docker.io/library/nginx:latest",
	},
	{
		Name:       "nginx-alpine",
		Files:      []File{{Path: "/webserver", Binary: "webserver"}},
		Entrypoint: []string{"/webserver"},
		FixedRef:   "docker.io/library/nginx:alpine",
	},
}

// Meta is what every image says about where it comes from.
type Meta struct {
	// Repo prefixes every image name, e.g. ghcr.io/ipkeeper.
	Repo     string
	Version  string
	Revision string
	Source   string
	Licenses string
	// Created is the time of every file, the config and the history; the
	// commit time, so that one commit gives one digest.
	Created time.Time
}

// Ref is the image's name and tag.
func (m Meta) Ref(s Spec) string {
	if s.FixedRef != "" {
		return s.FixedRef
	}
	return m.Repo + "/" + s.Name + ":" + m.Version
}

// annotations are the OCI annotations of s, also its config's labels.
func (m Meta) annotations(s Spec) map[string]string {
	a := map[string]string{
		"org.opencontainers.image.title":   s.Name,
		"org.opencontainers.image.created": m.Created.UTC().Format(time.RFC3339),
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  m.Version,
		"org.opencontainers.image.revision": m.Revision,
		"org.opencontainers.image.source":   m.Source,
		"org.opencontainers.image.licenses": m.Licenses,
	} {
		if v != "" {
			a[k] = v
		}
	}
	return a
}

// Platform is an os/arch pair the binaries were built for.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// binDir is where the binaries of p are: the Makefile's bin/<os>-<arch>/.
func (p Platform) binDir(bin string) string {
	return filepath.Join(bin, p.OS+"-"+p.Arch)
}

// image builds s for p from the binaries under bin.
func image(s Spec, p Platform, bin string, m Meta) (v1.Image, error) {
	layer, err := filesLayer(s.Files, p.binDir(bin), m.Created)
	if err != nil {
		return nil, fmt.Errorf("image %s for %s: %w", s.Name, p, err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: m.Created}, CreatedBy: "hack/tools/images", Comment: "static binaries"},
	})
	if err != nil {
		return nil, fmt.Errorf("image %s for %s: %w", s.Name, p, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s for %s: %w", s.Name, p, err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Arch
	cf.Created = v1.Time{Time: m.Created}
	cf.Config = v1.Config{
		Entrypoint: s.Entrypoint,
		User:       s.User,
		Labels:     m.annotations(s),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %s for %s: %w", s.Name, p, err)
	}
	return mutate.Annotations(img, m.annotations(s)).(v1.Image), nil
}

// index builds s for every platform, combined into one OCI image index.
func index(s Spec, platforms []Platform, bin string, m Meta) (v1.ImageIndex, []v1.Image, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var imgs []v1.Image
	for _, p := range platforms {
		img, err := image(s, p, bin, m)
		if err != nil {
			return nil, nil, err
		}
		imgs = append(imgs, img)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	return mutate.Annotations(idx, m.annotations(s)).(v1.ImageIndex), imgs, nil
}

// filesLayer is one layer holding files and their parent directories, in
// sorted order, owned by root, with fixed modes and the time created: the same
// binaries always give the same layer digest.
func filesLayer(files []File, dir string, created time.Time) (v1.Layer, error) {
	entries := map[string][]byte{} // path in the image → content; nil for a directory
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Binary))
		if err != nil {
			return nil, err
		}
		entries[f.Path] = b
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			entries[d+"/"] = nil
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		h := &tar.Header{Name: name[1:], ModTime: created, Format: tar.FormatUSTAR, Mode: 0o755}
		if content := entries[name]; content == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
		if _, err := tw.Write(entries[name]); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	content := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// parseEpoch turns SOURCE_DATE_EPOCH into a time; empty is the Unix epoch.
func parseEpoch(s string) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("source date epoch %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var (
	testPlatforms = []Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}}
	testMeta      = Meta{
		Repo: "ghcr.io/ipkeeper", Version: "v0.0.0-test", Revision: "0123456789abcdef0123456789abcdef01234567",
		Source: "https://github.com/ipkeeper/ipkeeper", Created: time.Unix(1700000000, 0).UTC(),
	}
)

// fakeBinaries writes, for every platform, a file per binary the images use,
// with content that tells binary and platform apart.
func fakeBinaries(t *testing.T, dir string) {
	t.Helper()
	for _, p := range testPlatforms {
		if err := os.MkdirAll(p.binDir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range images {
			for _, f := range s.Files {
				content := bytes.Repeat([]byte(f.Binary+" for "+p.String()+"\n"), 1000)
				if err := os.WriteFile(filepath.Join(p.binDir(dir), f.Binary), content, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// touch changes what a careless builder would copy into an image: every
// input file's mode and times.
func touch(t *testing.T, dir string) {
	t.Helper()
	later := time.Now().Add(time.Hour)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := os.Chmod(path, 0o700); err != nil {
			return err
		}
		return os.Chtimes(path, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// files maps every file under dir to its content.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		got[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBuildIsReproducible(t *testing.T) {
	bin := t.TempDir()
	fakeBinaries(t, bin)
	out1, out2 := t.TempDir(), t.TempDir()

	first, err := Build(images, testPlatforms, bin, out1, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	touch(t, bin)
	second, err := Build(images, testPlatforms, bin, out2, testMeta)
	if err != nil {
		t.Fatal(err)
	}

	if len(first) != len(images) || len(second) != len(images) {
		t.Fatalf("wrote %d and %d images, want %d", len(first), len(second), len(images))
	}
	for i := range first {
		if first[i].Index != second[i].Index {
			t.Errorf("%s: index digest %s, then %s", first[i].Ref, first[i].Index, second[i].Index)
		}
		for j := range first[i].Platforms {
			a, b := first[i].Platforms[j], second[i].Platforms[j]
			if a.Digest != b.Digest {
				t.Errorf("%s %s: digest %s, then %s", a.Ref, a.Platform, a.Digest, b.Digest)
			}
		}
	}
	// Not only the digests: every file written, the docker-archives included.
	f1, f2 := files(t, out1), files(t, out2)
	for name, b := range f1 {
		if !bytes.Equal(b, f2[name]) {
			t.Errorf("%s differs between the two builds", name)
		}
	}
	if len(f1) != len(f2) {
		t.Errorf("the builds wrote %d and %d files", len(f1), len(f2))
	}
	for _, name := range []string{"oci/index.json", "oci/oci-layout",
		"ipkeeper-agent-v0.0.0-test-amd64.tar", "ipkeeper-agent-v0.0.0-test-arm64.tar",
		"ipkeeper-controller-v0.0.0-test-amd64.tar", "ipkeeper-controller-v0.0.0-test-arm64.tar"} {
		if _, ok := f1[name]; !ok {
			t.Errorf("%s not written", name)
		}
	}
}

// Rebuilding into the same directory replaces the layout instead of
// appending a second copy of each image to its index.
func TestBuildReplacesLayout(t *testing.T) {
	bin, out := t.TempDir(), t.TempDir()
	fakeBinaries(t, bin)
	for range 2 {
		if _, err := Build(images, testPlatforms, bin, out, testMeta); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != len(images) {
		t.Errorf("index.json lists %d images, want %d", len(m.Manifests), len(images))
	}
}

func TestLayoutContent(t *testing.T) {
	bin, out := t.TempDir(), t.TempDir()
	fakeBinaries(t, bin)
	if _, err := Build(images, testPlatforms, bin, out, testMeta); err != nil {
		t.Fatal(err)
	}
	top, err := layout.ImageIndexFromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range images {
		desc := tm.Manifests[i]
		if got, want := desc.Annotations["org.opencontainers.image.ref.name"], testMeta.Ref(s); got != want {
			t.Errorf("layout entry %d is named %q, want %q", i, got, want)
		}
		idx, err := top.ImageIndex(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		checkAnnotations(t, s.Name+" index", im.Annotations, s)
		if len(im.Manifests) != len(testPlatforms) {
			t.Fatalf("%s: %d platforms, want %d", s.Name, len(im.Manifests), len(testPlatforms))
		}
		for j, p := range testPlatforms {
			d := im.Manifests[j]
			if d.Platform == nil || d.Platform.OS != p.OS || d.Platform.Architecture != p.Arch {
				t.Errorf("%s: manifest %d is for %v, want %s", s.Name, j, d.Platform, p)
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, s, p, bin)
		}
	}
}

func checkAnnotations(t *testing.T, what string, got map[string]string, s Spec) {
	t.Helper()
	want := map[string]string{
		"org.opencontainers.image.title":    s.Name,
		"org.opencontainers.image.version":  testMeta.Version,
		"org.opencontainers.image.revision": testMeta.Revision,
		"org.opencontainers.image.source":   testMeta.Source,
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
	if _, ok := got["org.opencontainers.image.licenses"]; ok {
		t.Errorf("%s: licenses annotated though none is known", what)
	}
}

func checkImage(t *testing.T, img v1.Image, s Spec, p Platform, bin string) {
	t.Helper()
	what := s.Name + " " + p.String()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Arch {
		t.Errorf("%s: config is for %s/%s", what, cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, s.Entrypoint) || cf.Config.User != s.User {
		t.Errorf("%s: entrypoint %q user %q, want %q %q", what, cf.Config.Entrypoint, cf.Config.User, s.Entrypoint, s.User)
	}
	if !cf.Created.Equal(testMeta.Created) {
		t.Errorf("%s: created %v, want %v", what, cf.Created, testMeta.Created)
	}
	checkAnnotations(t, what+" labels", cf.Config.Labels, s)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	checkAnnotations(t, what+" manifest", m.Annotations, s)

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s: layers %d, %v", what, len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want := map[string]string{} // path in the layer → binary; "" for a directory
	for _, f := range s.Files {
		want[f.Path[1:]] = f.Binary
		for d := filepath.Dir(f.Path); d != "/"; d = filepath.Dir(d) {
			want[d[1:]+"/"] = ""
		}
	}
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		binary, ok := want[h.Name]
		if !ok {
			t.Errorf("%s: unexpected %s in the layer", what, h.Name)
			continue
		}
		if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(testMeta.Created) {
			t.Errorf("%s: %s has mode %o uid %d gid %d time %v", what, h.Name, h.Mode, h.Uid, h.Gid, h.ModTime)
		}
		if binary == "" {
			if h.Typeflag != tar.TypeDir {
				t.Errorf("%s: %s is not a directory", what, h.Name)
			}
			continue
		}
		got, _ := io.ReadAll(tr)
		wantContent, err := os.ReadFile(filepath.Join(p.binDir(bin), binary))
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || !bytes.Equal(got, wantContent) {
			t.Errorf("%s: %s is not the %s binary", what, h.Name, binary)
		}
	}
	if len(names) != len(want) || !slices.IsSorted(names) {
		t.Errorf("%s: layer holds %q, want the %d entries of %v, sorted", what, names, len(want), want)
	}
}

// The docker-archive is tagged with the image's name and holds the config
// and layers of the layout's image (a docker-archive has no manifest of its
// own: the importer writes one).
func TestTarballs(t *testing.T) {
	bin, out := t.TempDir(), t.TempDir()
	fakeBinaries(t, bin)
	written, err := Build(images, testPlatforms, bin, out, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	top, err := layout.ImageIndexFromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range written {
		idx, err := top.ImageIndex(w.Index)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range w.Platforms {
			tag, err := name.NewTag(w.Ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tarball.ImageFromPath(b.Tarball, &tag)
			if err != nil {
				t.Fatalf("%s: %v", b.Tarball, err)
			}
			want, err := idx.Image(b.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := configAndLayers(t, got), configAndLayers(t, want); !slices.Equal(g, w) {
				t.Errorf("%s holds %v, want %v", b.Tarball, g, w)
			}
		}
	}
}

func configAndLayers(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	c, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	hashes := []v1.Hash{c}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, d)
	}
	return hashes
}

// A rebuild of another version leaves only the new version's archives.
func TestBuildRemovesStaleArchives(t *testing.T) {
	bin, out := t.TempDir(), t.TempDir()
	fakeBinaries(t, bin)
	old := testMeta
	old.Version = "v0.0.0-old"
	if _, err := Build(images, testPlatforms, bin, out, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(images, testPlatforms, bin, out, testMeta); err != nil {
		t.Fatal(err)
	}
	stale, err := filepath.Glob(filepath.Join(out, "*-v0.0.0-old-*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 0 {
		t.Errorf("stale archives left: %v", stale)
	}
}

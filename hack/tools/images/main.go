// Command images writes ipkeeper's container images from prebuilt static
// binaries, with no container engine and no registry: each image is the
// binaries on an empty base, one OCI image index per image over its platforms,
// written as an OCI layout and as per-platform docker-archives that
// `ctr images import` loads. The same binaries and metadata always give the
// same digests. `make images` runs it; the table of images is in images.go.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "images: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		m         Meta
		bin, out  string
		platforms string
		epoch     string
	)
	flag.StringVar(&bin, "bin", "bin", "directory holding the binaries under <os>-<arch>/")
	flag.StringVar(&out, "out", "bin/images", "directory the images are written to")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	flag.StringVar(&m.Repo, "repo", "ghcr.io/ipkeeper", "registry and namespace of the image names")
	flag.StringVar(&m.Version, "version", "dev", "image tag and org.opencontainers.image.version")
	flag.StringVar(&m.Revision, "revision", "", "org.opencontainers.image.revision: the commit")
	flag.StringVar(&m.Source, "source", "https://github.com/ipkeeper/ipkeeper", "org.opencontainers.image.source")
	flag.StringVar(&m.Licenses, "licenses", "", "org.opencontainers.image.licenses, an SPDX expression; empty omits it")
	flag.StringVar(&epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "time of files and config, in Unix seconds (env SOURCE_DATE_EPOCH); empty is 0")
	flag.Parse()

	var err error
	if m.Created, err = parseEpoch(epoch); err != nil {
		return err
	}
	ps, err := parsePlatforms(platforms)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	written, err := Build(images, ps, bin, out, m)
	if err != nil {
		return err
	}
	report(os.Stdout, written)
	return nil
}

// report prints a line per image and platform, and one per index.
func report(w io.Writer, written []Written) {
	width := 0
	for _, im := range written {
		width = max(width, len(im.Ref))
	}
	for _, im := range written {
		for _, b := range im.Platforms {
			fmt.Fprintf(w, "%-*s %-11s %s %5.1f MiB (%4.1f MiB compressed) %s\n",
				width, b.Ref, b.Platform, b.Digest, mib(b.Uncompressed), mib(b.Compressed), b.Tarball)
		}
		fmt.Fprintf(w, "%-*s %-11s %s\n", width, im.Ref, "index", im.Index)
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func parsePlatforms(s string) ([]Platform, error) {
	var ps []Platform
	for _, p := range strings.Split(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || os == "" || arch == "" {
			return nil, fmt.Errorf("platform %q: want os/arch", p)
		}
		ps = append(ps, Platform{OS: os, Arch: arch})
	}
	return ps, nil
}

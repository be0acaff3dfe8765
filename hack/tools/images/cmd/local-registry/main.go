// Command local-registry serves the local cluster's images, read from the
// docker-archives `make images` writes, over the registry API on one
// address, so that real nodes whose containerd names it as the mirror of
// docker.io, registry.k8s.io and ghcr.io can pull them (a pod of the seeds
// with `image: nginx` is pulled Always). It serves only what it was given,
// from memory, and never contacts another registry.
//
//	local-registry -listen 10.6.0.1:5000 ARCHIVE…
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5000", "address to serve the registry API on")
	flag.Parse()
	if err := run(*listen, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "local-registry:", err)
		os.Exit(1)
	}
}

func run(listen string, archives []string) error {
	handler := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	// Load every image before listening, through a loopback server of the
	// same handler: once the port answers, all are there.
	loader := httptest.NewServer(handler)
	for _, a := range archives {
		ref, err := load(loader.Listener.Addr().String(), a)
		if err != nil {
			loader.Close()
			return err
		}
		fmt.Printf("serving %v from %s\n", ref, a)
	}
	loader.Close()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		_ = srv.Close()
	}()
	fmt.Printf("listening on %s\n", listen)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// load pushes the archive's image, under each of its tags' repository and
// tag, to the registry at addr.
func load(addr, archive string) ([]string, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", archive, err)
	}
	var loaded []string
	for _, desc := range m {
		for _, t := range desc.RepoTags {
			tag, err := name.NewTag(t)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", archive, err)
			}
			img, err := tarball.ImageFromPath(archive, &tag)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", archive, err)
			}
			local, err := name.NewTag(addr+"/"+tag.RepositoryStr()+":"+tag.TagStr(), name.Insecure)
			if err != nil {
				return nil, err
			}
			if err := remote.Write(local, img); err != nil {
				return nil, fmt.Errorf("load %s: %w", tag, err)
			}
			loaded = append(loaded, tag.RepositoryStr()+":"+tag.TagStr())
		}
	}
	return loaded, nil
}

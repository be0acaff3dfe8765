// Module github.com/ipkeeper/ipkeeper/hack/tools/images writes ipkeeper's
// container images from prebuilt static binaries, without a container engine.
// It is separate from the project module so that go-containerregistry never
// enters the project's dependency graph.
module github.com/ipkeeper/ipkeeper/hack/tools/images

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)

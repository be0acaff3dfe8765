//go:build tools

// Package tools keeps the helm command in go.mod so that `go mod tidy` does not
// drop it.
package tools

import _ "helm.sh/helm/v3/cmd/helm"

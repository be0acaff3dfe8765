//go:build tools

// Package tools keeps promtool in go.mod so that `go mod tidy` does not drop
// it.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"

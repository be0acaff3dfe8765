//go:build tools

// Package tools keeps the Multus thin plugin in go.mod so that `go mod tidy`
// does not drop it.
package tools

import _ "gopkg.in/k8snetworkplumbingwg/multus-cni.v4/cmd/multus"

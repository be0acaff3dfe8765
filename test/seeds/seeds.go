// Package seeds holds the manifests of the seed walkthroughs (shared/seeds
// 000 StatefulSet, 003 SpiderReservedIP, 004 fixed addresses from a
// SpiderSubnet) as the pages write them, once, for every test that walks
// them: on simulated nodes (test/e2e) and on real ones (test/realnodes).
//
// This package is test harness: no product code may import it. It imports
// only the standard library.
package seeds

import "embed"

//go:embed manifests/*.yaml
var files embed.FS

// The manifests, named after the page they come from.
var (
	MultusConfig = read("multusconfig.yaml")

	StatefulSetPool = read("000-pool.yaml")
	StatefulSet     = read("000-statefulset.yaml")

	ReservedIP           = read("003-reservedip.yaml")
	ReservedIPPool       = read("003-pool.yaml")
	ReservedIPDeployment = read("003-deployment.yaml")

	Subnet               = read("004-subnet.yaml")
	SubnetDeployment     = read("004-deployment.yaml")
	ManualPool           = read("004-pool.yaml")
	ManualPoolDeployment = read("004-manual-deployment.yaml")
)

func read(name string) string {
	data, err := files.ReadFile("manifests/" + name)
	if err != nil {
		panic("seed manifest " + name + ": " + err.Error()) // embedded at build time: cannot happen
	}
	return string(data)
}

package cli

import (
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"sort"

	"github.com/spf13/cobra"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// PoolUsage is one pool's or subnet's line of `kubectl ipkeeper pools`.
type PoolUsage struct {
	Kind   string `json:"kind"` // SpiderIPPool or SpiderSubnet
	Name   string `json:"name"`
	Subnet string `json:"subnet"`
	// Total is what TOTAL-IP-COUNT shows: spec.ips inside the subnet minus
	// excludeIPs. Reserved, InUse and Free are parts of it; Excluded is not.
	Total    *big.Int `json:"total"`
	Reserved *big.Int `json:"reserved"`
	Excluded *big.Int `json:"excluded"`
	InUse    *big.Int `json:"inUse"`
	Free     *big.Int `json:"free"`
	// Percent is InUse over Total minus Reserved: how close to exhausted.
	Percent float64 `json:"percent"`
	// Quarantined are the addresses no pod is given because another host
	// answered for them (counted in InUse).
	Quarantined []string `json:"quarantined,omitempty"`
	// Workloads are the holders' workloads, "Kind namespace/name".
	Workloads []string `json:"workloads,omitempty"`
	// Pools are a subnet's pools.
	Pools []string `json:"pools,omitempty"`
	// Error is why the object's addresses could not be read.
	Error string `json:"error,omitempty"`
}

func newPoolsCommand(o *options) *cobra.Command {
	var subnet, sortBy string
	cmd := &cobra.Command{
		Use:   "pools",
		Short: "How full every pool and subnet is, and who uses it",
		Long: `pools lists every SpiderIPPool and SpiderSubnet with its total, reserved,
excluded, in-use and free addresses, a usage bar and the workloads holding its
addresses. --subnet shows one subnet and its pools; --sort=usage puts the
fullest first.`,
		Example: `  kubectl ipkeeper pools
  kubectl ipkeeper pools --subnet nginx-subnet-v4 --sort usage
  kubectl ipkeeper pools -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			if sortBy != "name" && sortBy != "usage" {
				return fmt.Errorf("--sort %q: sort by name or usage", sortBy)
			}
			c, err := o.kube()
			if err != nil {
				return err
			}
			s, err := load(cmd.Context(), c, want{})
			if err != nil {
				return err
			}
			rows, err := poolUsage(s, subnet)
			if err != nil {
				return err
			}
			if sortBy == "usage" {
				sort.SliceStable(rows, func(i, j int) bool { return rows[i].Percent > rows[j].Percent })
			}
			if done, err := o.printObject(rows); done {
				return err
			}
			return o.poolsTable(rows)
		},
	}
	cmd.Flags().StringVar(&subnet, "subnet", "", "only this SpiderSubnet and its pools")
	cmd.Flags().StringVar(&sortBy, "sort", "name", "order: name, or usage (fullest first)")
	return cmd
}

// poolUsage computes every line: subnets first, then pools.
func poolUsage(s *state, onlySubnet string) ([]PoolUsage, error) {
	var rows []PoolUsage
	found := onlySubnet == ""
	for i := range s.Subnets {
		sn := &s.Subnets[i]
		if onlySubnet != "" && sn.Name != onlySubnet {
			continue
		}
		found = true
		rows = append(rows, s.subnetUsage(sn))
	}
	if !found {
		return nil, fmt.Errorf("--subnet %q: no such SpiderSubnet", onlySubnet)
	}
	for i := range s.Pools {
		p := &s.Pools[i]
		if onlySubnet != "" && !inSubnet(p, s.subnetNamed(onlySubnet)) {
			continue
		}
		rows = append(rows, s.poolUsage(p))
	}
	return rows, nil
}

func (s *state) subnetNamed(name string) *v2beta1.SpiderSubnet {
	for i := range s.Subnets {
		if s.Subnets[i].Name == name {
			return &s.Subnets[i]
		}
	}
	return nil
}

// inSubnet: a pool belongs to a subnet that controls it (its automatic
// pools) or whose CIDR it shares (manual pools inside it).
func inSubnet(p *v2beta1.SpiderIPPool, sn *v2beta1.SpiderSubnet) bool {
	if sn == nil {
		return false
	}
	for _, ref := range p.OwnerReferences {
		if ref.Kind == "SpiderSubnet" && ref.Name == sn.Name {
			return true
		}
	}
	a, errA := netip.ParsePrefix(p.Spec.Subnet)
	b, errB := netip.ParsePrefix(sn.Spec.Subnet)
	return errA == nil && errB == nil && a.Masked() == b.Masked()
}

func (s *state) poolUsage(p *v2beta1.SpiderIPPool) PoolUsage {
	row := PoolUsage{Kind: "SpiderIPPool", Name: p.Name, Subnet: p.Spec.Subnet}
	parsed, err := s.poolOf(p)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	taken := s.claimedIn(spiderpool.PoolFamily(p), func(c *v1alpha1.IPClaim) bool { return c.Spec.Pool == p.Name })
	row.fill(parsed.Counts(taken))
	row.Workloads = s.workloads(func(c *v1alpha1.IPClaim) bool { return c.Spec.Pool == p.Name })
	row.Quarantined = s.quarantined(func(c *v1alpha1.IPClaim) bool { return c.Spec.Pool == p.Name })
	return row
}

// quarantined lists the quarantined addresses of the claims keep selects.
func (s *state) quarantined(keep func(*v1alpha1.IPClaim) bool) []string {
	var out []string
	for i := range s.Claims {
		if c := &s.Claims[i]; c.Quarantined() && keep(c) {
			out = append(out, c.Spec.Address)
		}
	}
	slices.Sort(out)
	return out
}

func (s *state) subnetUsage(sn *v2beta1.SpiderSubnet) PoolUsage {
	row := PoolUsage{Kind: "SpiderSubnet", Name: sn.Name, Subnet: sn.Spec.Subnet}
	parsed, err := spiderpool.SubnetPoolOf(sn)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	parsed.Reserved = s.reservedSet(spiderpool.SubnetFamily(sn.Spec.Subnet))
	pools := map[string]bool{}
	for i := range s.Pools {
		if inSubnet(&s.Pools[i], sn) {
			pools[s.Pools[i].Name] = true
			row.Pools = append(row.Pools, s.Pools[i].Name)
		}
	}
	mine := func(c *v1alpha1.IPClaim) bool { return pools[c.Spec.Pool] }
	row.fill(parsed.Counts(s.claimedIn(spiderpool.SubnetFamily(sn.Spec.Subnet), mine)))
	row.Workloads = s.workloads(mine)
	row.Quarantined = s.quarantined(mine)
	return row
}

func (r *PoolUsage) fill(c ipnet.Counts) {
	r.Total, r.Reserved, r.Excluded, r.InUse, r.Free = c.Total, c.Reserved, c.Excluded, c.InUse, c.Free
	usable := new(big.Int).Sub(c.Total, c.Reserved)
	if usable.Sign() > 0 {
		pct, _ := new(big.Rat).SetFrac(new(big.Int).Mul(c.InUse, big.NewInt(100)), usable).Float64()
		r.Percent = float64(int(pct*10+0.5)) / 10
	} else if c.InUse.Sign() > 0 || c.Total.Sign() > 0 {
		r.Percent = 100 // everything reserved: nothing left to hand out
	}
}

// workloads names the workloads of the claims keep selects, sorted.
func (s *state) workloads(keep func(*v1alpha1.IPClaim) bool) []string {
	seen := map[string]bool{}
	for i := range s.Claims {
		c := &s.Claims[i]
		if !keep(c) || c.Quarantined() {
			continue
		}
		kind, name := c.Spec.Owner.Kind, c.Spec.Owner.Name
		if kind == "" {
			kind, name = "Pod", c.Spec.Holder.Name
		}
		seen[kind+" "+c.Spec.Holder.Namespace+"/"+name] = true
	}
	out := make([]string, 0, len(seen))
	for w := range seen {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

func (o *options) poolsTable(rows []PoolUsage) error {
	headers := []string{"KIND", "NAME", "SUBNET", "TOTAL", "RESERVED", "EXCLUDED", "IN-USE", "QUARANTINED", "FREE", "USAGE", "WORKLOADS"}
	if o.output == "wide" {
		headers = append(headers, "POOLS")
	}
	var out [][]string
	for _, r := range rows {
		if r.Error != "" {
			out = append(out, []string{kindShort(r.Kind), r.Name, r.Subnet, "?", "?", "?", "?", "?", "?", "unreadable: " + r.Error, ""})
			continue
		}
		used, total := r.InUse.Uint64(), new(big.Int).Sub(r.Total, r.Reserved).Uint64()
		n := 2
		if o.output == "wide" {
			n = 10
		}
		row := []string{kindShort(r.Kind), r.Name, r.Subnet, r.Total.String(), r.Reserved.String(), r.Excluded.String(),
			r.InUse.String(), quarantineCell(r.Quarantined, n), r.Free.String(), usageBar(used, total), listOf(r.Workloads, n)}
		if o.output == "wide" {
			row = append(row, listOf(r.Pools, 10))
		}
		out = append(out, row)
	}
	return table(o.streams.Out, headers, out)
}

// quarantineCell is the count of quarantined addresses and the first n.
func quarantineCell(addrs []string, n int) string {
	if len(addrs) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", len(addrs), listOf(addrs, n))
}

func kindShort(kind string) string {
	if kind == "SpiderSubnet" {
		return "subnet"
	}
	return "pool"
}

package dsl

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// blockSentinel declares a Sentinel deployment.
const blockSentinel = "sentinel"

var sentinelSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "master_name", Required: true},
		{Name: "data_nodes", Required: true},
		{Name: "sentinels", Required: true},
		{Name: "username"},
		{Name: "password"},
		{Name: "sentinel_password"},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockRehearsal},
		{Type: blockLifecycle},
	},
}

var sentinelRehearsalSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "version", Required: true},
		{Name: "quorum"},
		{Name: "down_after"},
		{Name: "failover_timeout"},
		{Name: "parallel_syncs"},
	},
}

// Defaults of a rehearsal's sentinels: timeouts a production deployment
// would use, short enough that a rehearsal that gets Sentinel to act on
// its own (a stopped master) ends in seconds, not minutes.
const (
	DefaultSentinelDownAfter       = 5 * time.Second
	DefaultSentinelFailoverTimeout = 60 * time.Second
)

// SentinelDeployment is a `sentinel "NAME"` block: a master and its
// replicas (the data nodes) watched by sentinels, which clients ask for
// the master. Each data node and each sentinel becomes a node of the
// runbook, named NAME-1, NAME-2, … and NAME-sentinel-1, … in the order
// of the lists, with the block's credentials, rehearsal version and
// lifecycle:
//
//	sentinel "cache" {
//	  master_name = "mymaster"
//	  data_nodes  = ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"]
//	  sentinels   = ["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"]
//	  password    = env("REDIS_PASSWORD")
//	  rehearsal {
//	    version = "7.0"
//	  }
//	}
//
// Steps name no node of it: they refer to sentinel.cache.master (the
// master as the sentinels report it when the step starts) and iterate
// over sentinel.cache.replicas, .sentinels or .data_nodes in a group.
// A rehearsal starts the first data node as the master.
type SentinelDeployment struct {
	Name        string
	Description string
	MasterName  string
	// DataNodes and Sentinels are the names of the nodes the block
	// declares, in the order of its lists.
	DataNodes []string
	Sentinels []string
	// Rehearsal is how a rehearsal starts the deployment; nil when the
	// block has none.
	Rehearsal *SentinelRehearsal
	DeclRange hcl.Range
}

// SentinelRehearsal is the rehearsal block of a Sentinel deployment: the
// version every node and sentinel starts with and the sentinels'
// monitoring settings, which a plan states.
type SentinelRehearsal struct {
	Version         redis.Version
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int
	DeclRange       hcl.Range
}

// Sentinel collections: what a group's for_each may iterate over.
const (
	CollectionReplicas  = "replicas"
	CollectionSentinels = "sentinels"
	CollectionDataNodes = "data_nodes"
)

// masterNameRe is what a Sentinel master name may be: one word of
// SENTINEL commands and of sentinel.conf.
var masterNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:-]*$`)

func (r *Runbook) decodeSentinelBlock(b *hcl.Block) (*SentinelDeployment, []*Node, hcl.Diagnostics) {
	d := &SentinelDeployment{Name: b.Labels[0], DeclRange: b.DefRange}
	if !hclsyntax.ValidIdentifier(d.Name) {
		return nil, nil, hcl.Diagnostics{invalidName("sentinel", d.Name, b.LabelRanges[0])}
	}
	content, diags := b.Body.Content(sentinelSchema)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	attr := content.Attributes
	d.MasterName, diags = r.staticString(attr["master_name"].Expr, "The master name")
	if !diags.HasErrors() && !masterNameRe.MatchString(d.MasterName) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid master name",
			Detail:   fmt.Sprintf("The master name %q must be one word of letters, digits and _ . : - (it is an argument of SENTINEL commands).", d.MasterName),
			Subject:  attr["master_name"].Expr.Range().Ptr(),
		})
	}
	if a, ok := attr["description"]; ok {
		s, sDiags := r.staticString(a.Expr, "The description")
		diags = append(diags, sDiags...)
		d.Description = s
	}
	data, dDiags := r.addressList(attr["data_nodes"].Expr, "data_nodes")
	diags = append(diags, dDiags...)
	sents, sDiags := r.addressList(attr["sentinels"].Expr, "sentinels")
	diags = append(diags, sDiags...)

	// The credentials and blocks every generated node shares.
	proto := &Node{DeclRange: b.DefRange}
	for _, name := range []string{"username", "password"} {
		a, ok := attr[name]
		if !ok {
			continue
		}
		s, sDiags := r.staticString(a.Expr, "The "+name+" of the data nodes")
		diags = append(diags, sDiags...)
		if name == "username" {
			proto.Username, proto.UsernameRange = s, a.Expr.Range()
		} else {
			proto.Password, proto.HasPassword, proto.PasswordRange = s, true, a.Expr.Range()
		}
	}
	sentinelProto := &Node{DeclRange: b.DefRange, Sentinel: true, Deployment: d.Name}
	if a, ok := attr["sentinel_password"]; ok {
		s, sDiags := r.staticString(a.Expr, "The sentinels' password")
		diags = append(diags, sDiags...)
		sentinelProto.Password, sentinelProto.HasPassword, sentinelProto.PasswordRange = s, true, a.Expr.Range()
	}
	var lifecycle *NodeLifecycle
	first := map[string]*hcl.Block{}
	for _, blk := range content.Blocks {
		if prev, ok := first[blk.Type]; ok {
			diags = append(diags, duplicate(blk.Type+" block in sentinel", d.Name, blk.DefRange, prev.DefRange))
			continue
		}
		first[blk.Type] = blk
		switch blk.Type {
		case blockRehearsal:
			sr, rDiags := r.decodeSentinelRehearsalBlock(blk, len(sents))
			diags = append(diags, rDiags...)
			d.Rehearsal = sr
		case blockLifecycle:
			l, lDiags := r.decodeNodeLifecycleBlock(d.Name, blk)
			diags = append(diags, lDiags...)
			lifecycle = l
		}
	}

	var nodes []*Node
	for i, addr := range data {
		n := *proto
		n.Name, n.Address, n.Deployment, n.Lifecycle = fmt.Sprintf("%s-%d", d.Name, i+1), addr, d.Name, lifecycle
		n.Description = fmt.Sprintf("data node %d of Sentinel deployment %q", i+1, d.Name)
		if d.Rehearsal != nil {
			seed := i == 0
			n.Rehearsal = &NodeRehearsal{Version: d.Rehearsal.Version, Seed: &seed, DeclRange: d.Rehearsal.DeclRange}
		}
		d.DataNodes = append(d.DataNodes, n.Name)
		nodes = append(nodes, &n)
	}
	for i, addr := range sents {
		n := *sentinelProto
		n.Name, n.Address, n.Lifecycle = fmt.Sprintf("%s-sentinel-%d", d.Name, i+1), addr, lifecycle
		n.Description = fmt.Sprintf("sentinel %d of Sentinel deployment %q", i+1, d.Name)
		if d.Rehearsal != nil {
			seed := false
			n.Rehearsal = &NodeRehearsal{Version: d.Rehearsal.Version, Seed: &seed, DeclRange: d.Rehearsal.DeclRange}
		}
		d.Sentinels = append(d.Sentinels, n.Name)
		nodes = append(nodes, &n)
	}
	return d, nodes, diags
}

// addressList reads a static, non-empty list of host:port strings.
func (r *Runbook) addressList(expr hcl.Expression, name string) ([]string, hcl.Diagnostics) {
	v, diags := r.staticValue(expr, cty.List(cty.String), fmt.Sprintf("The %s", name))
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return nil, diags
	}
	if v.IsNull() || v.LengthInt() == 0 {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty " + name,
			Detail:   fmt.Sprintf("A Sentinel deployment needs at least one address (host:port) in %s.", name),
			Subject:  expr.Range().Ptr(),
		})
	}
	var out []string
	seen := map[string]bool{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Null address", Detail: fmt.Sprintf("The %s list holds a null element.", name), Subject: expr.Range().Ptr()})
		}
		s := e.AsString()
		if seen[s] {
			diags = append(diags, listedTwice(expr, len(out), v.LengthInt(), "address in "+name, s))
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, diags
}

func (r *Runbook) decodeSentinelRehearsalBlock(b *hcl.Block, sentinels int) (*SentinelRehearsal, hcl.Diagnostics) {
	sr := &SentinelRehearsal{DeclRange: b.DefRange, DownAfter: DefaultSentinelDownAfter, FailoverTimeout: DefaultSentinelFailoverTimeout, ParallelSyncs: 1, Quorum: sentinels/2 + 1}
	content, diags := b.Body.Content(sentinelRehearsalSchema)
	if a, ok := content.Attributes["version"]; ok {
		v, _, vDiags := r.staticVersion(a.Expr, "The rehearsal version")
		diags = append(diags, vDiags...)
		sr.Version = v
	}
	for _, name := range []string{"quorum", "parallel_syncs"} {
		a, ok := content.Attributes[name]
		if !ok {
			continue
		}
		v, vDiags := r.staticValue(a.Expr, cty.Number, "The "+name)
		diags = append(diags, vDiags...)
		if vDiags.HasErrors() || !v.IsKnown() || v.IsNull() {
			continue
		}
		n, acc := v.AsBigFloat().Int64()
		if acc != 0 || n < 1 || (name == "quorum" && sentinels > 0 && int(n) > sentinels) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + name,
				Detail:   fmt.Sprintf("The %s must be a whole number from 1 to the number of sentinels (%d).", name, sentinels),
				Subject:  a.Expr.Range().Ptr(),
			})
			continue
		}
		if name == "quorum" {
			sr.Quorum = int(n)
		} else {
			sr.ParallelSyncs = int(n)
		}
	}
	for _, name := range []string{"down_after", "failover_timeout"} {
		a, ok := content.Attributes[name]
		if !ok {
			continue
		}
		d, dDiags := r.staticDuration(a.Expr, "The "+name)
		diags = append(diags, dDiags...)
		if name == "down_after" {
			sr.DownAfter = d
		} else {
			sr.FailoverTimeout = d
		}
	}
	return sr, diags
}

// Deployment returns the Sentinel deployment that declares node name, nil
// for a node of its own.
func (r *Runbook) Deployment(name string) *SentinelDeployment {
	if n, ok := r.Nodes[name]; ok && n.Deployment != "" {
		return r.Sentinels[n.Deployment]
	}
	return nil
}

// decodeDeploymentBlocks decodes the sentinel and cluster blocks and adds
// their nodes. A runbook declares at most one deployment, and then no
// node or endpoint blocks of its own: the deployment declares its nodes,
// and clients find the master through the sentinels or the cluster.
func (r *Runbook) decodeDeploymentBlocks(sentinels, clusters, nodeBlocks, endpointBlocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	all := append(append([]*hcl.Block(nil), sentinels...), clusters...)
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b *hcl.Block) int { return compareRanges(a.DefRange, b.DefRange) })
	for _, extra := range all[1:] {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "More than one deployment",
			Detail:   fmt.Sprintf("A runbook upgrades one Sentinel or Cluster deployment; one is declared at %s.", all[0].DefRange),
			Subject:  extra.DefRange.Ptr(),
		})
	}
	for _, other := range append(append([]*hcl.Block(nil), nodeBlocks...), endpointBlocks...) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("A %s block next to a %s deployment", other.Type, all[0].Type),
			Detail:   fmt.Sprintf("The %s block at %s declares the nodes, and clients find the master through it: a runbook with it declares no node or endpoint blocks.", all[0].Type, all[0].DefRange),
			Subject:  other.DefRange.Ptr(),
		})
	}
	var nodes []*Node
	var dDiags hcl.Diagnostics
	switch b := all[0]; b.Type {
	case blockSentinel:
		var d *SentinelDeployment
		d, nodes, dDiags = r.decodeSentinelBlock(b)
		if d != nil {
			r.Sentinels[d.Name] = d
		}
	case blockCluster:
		var d *ClusterDeployment
		d, nodes, dDiags = r.decodeClusterBlock(b)
		if d != nil {
			r.Clusters[d.Name] = d
		}
	}
	diags = append(diags, dDiags...)
	for _, n := range nodes {
		r.Nodes[n.Name] = n
	}
	return diags
}

// compareRanges orders ranges by file, then position.
func compareRanges(a, b hcl.Range) int {
	if a.Filename != b.Filename {
		return strings.Compare(a.Filename, b.Filename)
	}
	return a.Start.Byte - b.Start.Byte
}

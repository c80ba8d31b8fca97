package dsl

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// blockCluster declares a Redis Cluster deployment.
const blockCluster = "cluster"

var clusterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "nodes", Required: true},
		{Name: "username"},
		{Name: "password"},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockRehearsal},
		{Type: blockLifecycle},
	},
}

var clusterRehearsalSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "version", Required: true},
		{Name: "masters"},
		{Name: "replicas"},
	},
}

// Cluster collections: what a group's for_each may iterate over.
const (
	CollectionMasters = "masters"
	CollectionNodes   = "nodes"
)

// ClusterDeployment is a `cluster "NAME"` block: the nodes of a Redis
// Cluster, whose roles (which node is a master, which replicates which)
// are read from the nodes (CLUSTER NODES) when a group starts. Each node
// becomes a node of the runbook, NAME-1, NAME-2, …, with the block's
// credentials and lifecycle:
//
//	cluster "cache" {
//	  nodes    = ["10.0.0.1:6379", "10.0.0.2:6379", ...]
//	  password = env("REDIS_PASSWORD")
//	  rehearsal {
//	    version  = "7.0"
//	    masters  = 3
//	    replicas = 1
//	  }
//	}
//
// Steps name no node of it: groups iterate over cluster.NAME.masters,
// cluster.NAME.replicas or cluster.NAME.nodes. A rehearsal starts
// masters × (1 + replicas) nodes (its shape, whatever the nodes list
// holds): the first masters are the masters, the next ones their
// replicas in turn.
type ClusterDeployment struct {
	Name        string
	Description string
	// Nodes are the names of the nodes the block declares.
	Nodes []string
	// Rehearsal is how a rehearsal starts the cluster; nil without one.
	Rehearsal *ClusterRehearsal
	DeclRange hcl.Range
}

// ClusterRehearsal is the rehearsal block of a cluster: the version and
// the shape a rehearsal builds.
type ClusterRehearsal struct {
	Version redis.Version
	// Masters and Replicas (per master) are the shape; 3 and 1 unless set.
	Masters, Replicas int
	DeclRange         hcl.Range
}

// ClusterOf returns the Cluster deployment that declares node name, nil for
// a node it does not declare.
func (r *Runbook) ClusterOf(name string) *ClusterDeployment {
	if n, ok := r.Nodes[name]; ok && n.Deployment != "" && !n.Sentinel {
		return r.Clusters[n.Deployment]
	}
	return nil
}

func (r *Runbook) decodeClusterBlock(b *hcl.Block) (*ClusterDeployment, []*Node, hcl.Diagnostics) {
	d := &ClusterDeployment{Name: b.Labels[0], DeclRange: b.DefRange}
	if !hclsyntax.ValidIdentifier(d.Name) {
		return nil, nil, hcl.Diagnostics{invalidName("cluster", d.Name, b.LabelRanges[0])}
	}
	content, diags := b.Body.Content(clusterSchema)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	attr := content.Attributes
	if a, ok := attr["description"]; ok {
		s, sDiags := r.staticString(a.Expr, "The description")
		diags = append(diags, sDiags...)
		d.Description = s
	}
	addrs, aDiags := r.addressList(attr["nodes"].Expr, "nodes")
	diags = append(diags, aDiags...)
	proto := &Node{DeclRange: b.DefRange, Deployment: d.Name}
	for _, name := range []string{"username", "password"} {
		a, ok := attr[name]
		if !ok {
			continue
		}
		s, sDiags := r.staticString(a.Expr, "The "+name+" of the cluster's nodes")
		diags = append(diags, sDiags...)
		if name == "username" {
			proto.Username, proto.UsernameRange = s, a.Expr.Range()
		} else {
			proto.Password, proto.HasPassword, proto.PasswordRange = s, true, a.Expr.Range()
		}
	}
	first := map[string]*hcl.Block{}
	for _, blk := range content.Blocks {
		if prev, ok := first[blk.Type]; ok {
			diags = append(diags, duplicate(blk.Type+" block in cluster", d.Name, blk.DefRange, prev.DefRange))
			continue
		}
		first[blk.Type] = blk
		switch blk.Type {
		case blockRehearsal:
			cr, rDiags := r.decodeClusterRehearsalBlock(blk)
			diags = append(diags, rDiags...)
			d.Rehearsal = cr
		case blockLifecycle:
			l, lDiags := r.decodeNodeLifecycleBlock(d.Name, blk)
			diags = append(diags, lDiags...)
			proto.Lifecycle = l
		}
	}
	// A rehearsal builds its own shape; elsewhere the nodes are the
	// addresses listed.
	count := len(addrs)
	if r.mode == ModeRehearsal && d.Rehearsal != nil {
		count = d.Rehearsal.Masters * (1 + d.Rehearsal.Replicas)
	}
	var nodes []*Node
	for i := range count {
		n := *proto
		n.Name = fmt.Sprintf("%s-%d", d.Name, i+1)
		if i < len(addrs) {
			n.Address = addrs[i]
		}
		n.Description = fmt.Sprintf("node %d of cluster %q", i+1, d.Name)
		if cr := d.Rehearsal; cr != nil {
			seed := i < cr.Masters
			n.Rehearsal = &NodeRehearsal{Version: cr.Version, Seed: &seed, DeclRange: cr.DeclRange}
		}
		d.Nodes = append(d.Nodes, n.Name)
		nodes = append(nodes, &n)
	}
	return d, nodes, diags
}

func (r *Runbook) decodeClusterRehearsalBlock(b *hcl.Block) (*ClusterRehearsal, hcl.Diagnostics) {
	cr := &ClusterRehearsal{DeclRange: b.DefRange, Masters: 3, Replicas: 1}
	content, diags := b.Body.Content(clusterRehearsalSchema)
	if a, ok := content.Attributes["version"]; ok {
		v, _, vDiags := r.staticVersion(a.Expr, "The rehearsal version")
		diags = append(diags, vDiags...)
		cr.Version = v
	}
	for _, name := range []string{"masters", "replicas"} {
		a, ok := content.Attributes[name]
		if !ok {
			continue
		}
		v, vDiags := r.staticValue(a.Expr, cty.Number, "The number of "+name)
		diags = append(diags, vDiags...)
		if vDiags.HasErrors() || !v.IsKnown() || v.IsNull() {
			continue
		}
		n, acc := v.AsBigFloat().Int64()
		low := map[string]int64{"masters": 3, "replicas": 0}[name]
		if acc != 0 || n < low || n > 50 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + name,
				Detail:   fmt.Sprintf("A rehearsal cluster has %d to 50 %s (a cluster needs 3 masters to elect).", low, name),
				Subject:  a.Expr.Range().Ptr(),
			})
			continue
		}
		if name == "masters" {
			cr.Masters = int(n)
		} else {
			cr.Replicas = int(n)
		}
	}
	return cr, diags
}

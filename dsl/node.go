package dsl

import (
	"fmt"
	"github.com/understudy/understudy/steps/redis"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Node is a Redis or Valkey server the runbook acts on.
type Node struct {
	Name        string
	Description string
	// Address is host:port in live mode; empty when it could not be resolved
	// without secrets (an unset env()).
	Address string
	// Username and Password are secrets: never print them. They are
	// usually read with env() or file(); while validating, a file()'s
	// content is not used (the value is unknown).
	Username string
	Password string
	// HasPassword is true when the runbook sets a password, even one that
	// could not be resolved yet.
	HasPassword bool
	// PasswordRange and UsernameRange are the ranges of those attributes'
	// expressions, for diagnostics; zero when not set.
	PasswordRange, UsernameRange hcl.Range
	// Rehearsal is how a rehearsal spawns this node; nil when the node has
	// no rehearsal block (it cannot be rehearsed).
	Rehearsal *NodeRehearsal
	// TLS is how the live backend reaches the node over TLS; nil when the
	// node has no tls block (plain TCP). A rehearsal ignores it.
	TLS *NodeTLS
	// Lifecycle is how the live backend upgrades, stops and starts the
	// node's server; nil when the node has no lifecycle block. A rehearsal
	// ignores it.
	Lifecycle *NodeLifecycle
	// Deployment names the Sentinel or Cluster deployment that declares
	// the node ("" for a node block of its own); Sentinel is true for a
	// Sentinel deployment's sentinels, false for data and cluster nodes.
	Deployment string
	Sentinel   bool
	DeclRange  hcl.Range
}

// NodeRehearsal is the rehearsal block of a node.
type NodeRehearsal struct {
	Version redis.Version
	// Seed says whether the rehearsal loads test data into this node before
	// the first step. Unset (nil): the nodes an endpoint targets are seeded.
	Seed      *bool
	DeclRange hcl.Range
}

func (r *Runbook) decodeNodeBlock(b *hcl.Block) (*Node, hcl.Diagnostics) {
	n := &Node{Name: b.Labels[0], DeclRange: b.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(n.Name) {
		return nil, append(diags, invalidName("node", n.Name, b.LabelRanges[0]))
	}
	content, cDiags := b.Body.Content(nodeSchema)
	diags = append(diags, cDiags...)

	dst := map[string]*string{"address": &n.Address, "username": &n.Username, "password": &n.Password, "description": &n.Description}
	for _, attr := range sortedAttributes(content.Attributes) {
		s, sDiags := r.staticString(attr.Expr, fmt.Sprintf("The %s of a node", attr.Name))
		diags = append(diags, sDiags...)
		*dst[attr.Name] = s
	}
	if a, ok := content.Attributes["password"]; ok {
		n.HasPassword, n.PasswordRange = true, a.Expr.Range()
	}
	if a, ok := content.Attributes["username"]; ok {
		n.UsernameRange = a.Expr.Range()
	}
	first := map[string]*hcl.Block{}
	for _, blk := range content.Blocks {
		if prev, ok := first[blk.Type]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block in node %q", blk.Type, n.Name),
				Detail:   fmt.Sprintf("Node %q already has a %s block at %s; a node takes at most one.", n.Name, blk.Type, prev.DefRange),
				Subject:  blk.DefRange.Ptr(),
			})
			continue
		}
		first[blk.Type] = blk
		switch blk.Type {
		case blockRehearsal:
			nr, rDiags := r.decodeNodeRehearsalBlock(blk)
			diags = append(diags, rDiags...)
			n.Rehearsal = nr
		case blockTLS:
			nt, tDiags := r.decodeNodeTLSBlock(n.Name, blk)
			diags = append(diags, tDiags...)
			n.TLS = nt
		case blockLifecycle:
			nl, lDiags := r.decodeNodeLifecycleBlock(n.Name, blk)
			diags = append(diags, lDiags...)
			n.Lifecycle = nl
		}
	}
	return n, diags
}

func (r *Runbook) decodeNodeRehearsalBlock(b *hcl.Block) (*NodeRehearsal, hcl.Diagnostics) {
	nr := &NodeRehearsal{DeclRange: b.DefRange}
	content, diags := b.Body.Content(nodeRehearsalSchema)
	if attr, ok := content.Attributes["version"]; ok {
		v, _, vDiags := r.staticVersion(attr.Expr, "The rehearsal version")
		diags = append(diags, vDiags...)
		nr.Version = v
	}
	if attr, ok := content.Attributes["seed"]; ok {
		v, vDiags := r.staticValue(attr.Expr, cty.Bool, "The seed setting")
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() && v.IsKnown() && !v.IsNull() {
			b := v.True()
			nr.Seed = &b
		}
	}
	return nr, diags
}

// staticValue evaluates an expression that may refer only to var.* and
// local.* and converts it to ty.
func (r *Runbook) staticValue(expr hcl.Expression, ty cty.Type, what string) (cty.Value, hcl.Diagnostics) {
	diags := r.checkStaticRefs(expr, what)
	if diags.HasErrors() {
		return cty.UnknownVal(ty), diags
	}
	v, vDiags := expr.Value(r.staticContext())
	diags = append(diags, vDiags...)
	if vDiags.HasErrors() {
		return cty.UnknownVal(ty), diags
	}
	conv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.UnknownVal(ty), append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect value type",
			Detail:   fmt.Sprintf("%s must be %s: %s.", what, ty.FriendlyName(), err),
			Subject:  expr.Range().Ptr(),
		})
	}
	return conv, diags
}

// staticString is staticValue for strings; an unknown value (an unset env()
// while validating) yields "".
// staticVersion reads a static version such as "7.0" or "valkey:8.1". An
// empty or malformed version is an error; ok is false when the value is not
// known without a server (an unset env() while validating).
func (r *Runbook) staticVersion(expr hcl.Expression, what string) (v redis.Version, ok bool, diags hcl.Diagnostics) {
	val, diags := r.staticValue(expr, cty.String, what)
	if diags.HasErrors() || !val.IsKnown() {
		return redis.Version{}, false, diags
	}
	s := ""
	if !val.IsNull() {
		s = val.AsString()
	}
	v, err := redis.ParseVersion(s)
	if err != nil {
		return redis.Version{}, false, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid version",
			Detail:   fmt.Sprintf("%s: %s.", what, err),
			Subject:  expr.Range().Ptr(),
		})
	}
	return v, true, diags
}

func (r *Runbook) staticString(expr hcl.Expression, what string) (string, hcl.Diagnostics) {
	v, diags := r.staticValue(expr, cty.String, what)
	if !v.IsKnown() || v.IsNull() {
		return "", diags
	}
	return v.AsString(), diags
}

// nodeRef resolves an expression that must be a reference to a node
// (replica = node.new) to the node's name.
//
// Two references name a node known only when the step starts: each.node
// inside a group (RefEach) and sentinel.NAME.master (MasterRef).
func (r *Runbook) nodeRef(expr hcl.Expression, what string) (string, hcl.Diagnostics) {
	tr, tDiags := hcl.AbsTraversalForExpr(expr)
	if !tDiags.HasErrors() {
		switch tr.RootName() {
		case "each":
			if len(tr) != 2 || traversalName(tr[1]) != "node" {
				break
			}
			if r.group == nil {
				return "", hcl.Diagnostics{eachOutsideGroup(tr.SourceRange())}
			}
			return RefEach, nil
		case blockSentinel:
			if len(tr) != 3 || traversalName(tr[2]) != "master" {
				break
			}
			if d := checkDeclared(tr, "sentinel deployment", mapKeys(r.Sentinels)); d.HasErrors() {
				return "", d
			}
			return MasterRef(traversalName(tr[1])), nil
		}
	}
	return r.blockRef(expr, "node", what, r.NodeNames())
}

// nodeListRef reads a list of node references: [node.a, node.b], or all
// the sentinels or data nodes of a deployment (sentinel.NAME.sentinels,
// sentinel.NAME.data_nodes), which are known without a server.
func (r *Runbook) nodeListRef(expr hcl.Expression, what string) ([]string, hcl.Diagnostics) {
	if tr, tDiags := hcl.AbsTraversalForExpr(expr); !tDiags.HasErrors() && (tr.RootName() == blockSentinel || tr.RootName() == blockCluster) {
		root, dep, coll, diags := r.collectionRef(expr)
		if diags.HasErrors() {
			return nil, diags
		}
		switch {
		case root == blockSentinel && coll == CollectionSentinels:
			return r.Sentinels[dep].Sentinels, nil
		case root == blockSentinel && coll == CollectionDataNodes:
			return r.Sentinels[dep].DataNodes, nil
		case root == blockCluster && coll == CollectionNodes:
			return r.Clusters[dep].Nodes, nil
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Node set known only at run time",
			Detail:   fmt.Sprintf("%s must be nodes known before the step runs: %s.%s.%s changes as the upgrade goes; repeat steps over it with a group instead.", what, root, dep, coll),
			Subject:  expr.Range().Ptr(),
		}}
	}
	elems, diags := hcl.ExprList(expr)
	var refs []string
	seen := map[string]bool{}
	for _, e := range elems {
		ref, rDiags := r.nodeRef(e, what+"'s element")
		diags = append(diags, rDiags...)
		if _, dyn := DynamicRef(ref); dyn {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Node known only at run time", Detail: fmt.Sprintf("%s lists nodes known before the step runs; %s is not.", what, r.ExprText(e)), Subject: e.Range().Ptr()})
			continue
		}
		if ref != "" && seen[ref] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Node listed twice", Detail: fmt.Sprintf("%s lists node %q twice.", what, ref), Subject: e.Range().Ptr()})
		}
		if ref != "" {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	return refs, diags
}

func eachOutsideGroup(rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "each outside a group",
		Detail:   "each.node and each.key name the node of a group's iteration: use them in the steps of a group block (group \"NAME\" { for_each = sentinel.NAME.replicas ... }).",
		Subject:  rng.Ptr(),
	}
}

// endpointRef resolves endpoint.NAME.
func (r *Runbook) endpointRef(expr hcl.Expression, what string) (string, hcl.Diagnostics) {
	return r.blockRef(expr, "endpoint", what, mapKeys(r.Endpoints))
}

func (r *Runbook) blockRef(expr hcl.Expression, root, what string, names []string) (string, hcl.Diagnostics) {
	tr, tDiags := hcl.AbsTraversalForExpr(expr)
	var attr hcl.TraverseAttr
	if len(tr) == 2 {
		attr, _ = tr[1].(hcl.TraverseAttr)
	}
	if tDiags.HasErrors() || attr.Name == "" || tr.RootName() != root {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s reference", root),
			Detail:   fmt.Sprintf("%s must be a reference to a %s, written %s.NAME.", what, root, root),
			Subject:  expr.Range().Ptr(),
		}}
	}
	name := attr.Name
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Reference to undeclared %s", root),
		Detail:   fmt.Sprintf("No %s named %q is declared.%s", root, name, suggest(name, names)),
		Subject:  expr.Range().Ptr(),
	}}
}

package dsl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/understudy/understudy/steps/redis"
)

// blockGroup repeats its steps over a set of nodes.
const blockGroup = "group"

var groupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "for_each", Required: true},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockStep, LabelNames: []string{"kind", "name"}},
	},
}

// Group is a `group "NAME"` block: its steps run in order for one node of
// a set, then again for the next, so that an upgrade goes one node at a
// time:
//
//	group "replicas" {
//	  for_each = sentinel.cache.replicas
//	  step "upgrade" "replica" {
//	    node    = each.node
//	    version = var.to
//	  }
//	  step "wait" "replica_synced" {
//	    until = in_sync(each.node, sentinel.cache.master)
//	  }
//	}
//
// The set is read when the group starts (sentinel.NAME.replicas asks the
// sentinels which data nodes replicate the master now; .sentinels and
// .data_nodes are the declared ones), so the runbook names no node and
// serves any number of them. Inside the group each.node is the node of
// the iteration and each.key its name. Each iteration of a step is a step
// of its own in progress, reports and journals, named step[key]
// (replica[cache-2]); step.NAME read after the group is its last
// iteration.
type Group struct {
	Name        string
	Description string
	// ForEach is the set as written; Root, Deployment and Collection are
	// what it names (sentinel.NAME.replicas: "sentinel", NAME, "replicas").
	ForEach    hcl.Expression
	Root       string
	Deployment string
	Collection string
	Steps      []*Step
	DeclRange  hcl.Range
	NameRange  hcl.Range
}

// Dynamic node references: a node argument that names a node only known
// when the step starts.
const (
	// RefEach is each.node inside a group.
	RefEach = "each.node"
)

// MasterRef is the node reference sentinel.DEPLOYMENT.master.
func MasterRef(deployment string) string { return "sentinel." + deployment + ".master" }

// DynamicRef reports whether a node argument's reference is resolved when
// the step starts (each.node, sentinel.NAME.master) and, for a master,
// of which deployment.
func DynamicRef(ref string) (deployment string, dynamic bool) {
	if ref == RefEach {
		return "", true
	}
	if d, ok := strings.CutPrefix(ref, "sentinel."); ok {
		if d, ok := strings.CutSuffix(d, ".master"); ok {
			return d, true
		}
	}
	return "", false
}

// Iteration is one pass of a group: the node each.node names.
type Iteration struct {
	Group *Group
	// Key is the node's name: each.key, and the [key] of the step names.
	Key string
}

func (r *Runbook) decodeGroupBlock(b *hcl.Block, before map[string]*Step) (*Group, hcl.Diagnostics) {
	g := &Group{Name: b.Labels[0], DeclRange: b.DefRange, NameRange: b.LabelRanges[0]}
	if !hclsyntax.ValidIdentifier(g.Name) {
		return nil, hcl.Diagnostics{invalidName("group", g.Name, b.LabelRanges[0])}
	}
	content, diags := b.Body.Content(groupSchema)
	if a, ok := content.Attributes["description"]; ok {
		s, sDiags := r.staticString(a.Expr, "The description")
		diags = append(diags, sDiags...)
		g.Description = s
	}
	if a, ok := content.Attributes["for_each"]; ok {
		g.ForEach = a.Expr
		root, dep, coll, fDiags := r.collectionRef(a.Expr)
		diags = append(diags, fDiags...)
		g.Root, g.Deployment, g.Collection = root, dep, coll
	}
	if diags.HasErrors() {
		return nil, diags
	}
	r.group = g
	defer func() { r.group = nil }()
	for _, blk := range content.Blocks {
		s, sDiags := r.decodeStepBlock(blk, before, false)
		diags = append(diags, sDiags...)
		if s == nil {
			continue
		}
		if sDiags.HasErrors() {
			r.invalid[s] = true
		}
		s.Group = g
		before[s.Name] = s
		g.Steps = append(g.Steps, s)
	}
	if len(g.Steps) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Group has no steps",
			Detail:   fmt.Sprintf("Group %q repeats its steps for each node, but it has none.", g.Name),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return g, diags
}

// collectionRef reads a for_each: sentinel.NAME.replicas, .sentinels or
// .data_nodes; cluster.NAME.masters, .replicas or .nodes.
func (r *Runbook) collectionRef(expr hcl.Expression) (root, deployment, collection string, diags hcl.Diagnostics) {
	sets := map[string][]string{
		blockSentinel: {CollectionReplicas, CollectionSentinels, CollectionDataNodes},
		blockCluster:  {CollectionMasters, CollectionReplicas, CollectionNodes},
	}
	declared := map[string][]string{blockSentinel: mapKeys(r.Sentinels), blockCluster: mapKeys(r.Clusters)}
	bad := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid for_each",
		Detail:   "A group repeats over the nodes of a deployment: for_each = sentinel.NAME.replicas, .sentinels or .data_nodes, or cluster.NAME.masters, .replicas or .nodes.",
		Subject:  expr.Range().Ptr(),
	}
	tr, tDiags := hcl.AbsTraversalForExpr(expr)
	root = tr.RootName()
	if tDiags.HasErrors() || len(tr) != 3 || sets[root] == nil {
		return "", "", "", hcl.Diagnostics{bad}
	}
	if d := checkDeclared(tr, root+" deployment", declared[root]); d.HasErrors() {
		return "", "", "", d
	}
	dep, coll := traversalName(tr[1]), traversalName(tr[2])
	if !slices.Contains(sets[root], coll) {
		bad.Detail += suggest(coll, sets[root])
		return "", "", "", hcl.Diagnostics{bad}
	}
	return root, dep, coll, nil
}

func traversalName(t hcl.Traverser) string {
	if a, ok := t.(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// Iterate returns the step as an iteration of its group runs it: named
// step[key], with each.node standing for the key's node. With a nil
// iteration it returns the step itself.
func (s *Step) Iterate(it *Iteration) *Step {
	if it == nil {
		return s
	}
	c := s.clone()
	c.Name = fmt.Sprintf("%s[%s]", s.Name, it.Key)
	c.Each = it
	return c
}

// clone copies the step and its argument map (not the arguments).
func (s *Step) clone() *Step {
	c := *s
	c.Origin = s.Decl()
	c.Args = make(map[string]*Arg, len(s.Args))
	for k, v := range s.Args {
		c.Args[k] = v
	}
	return &c
}

// Bind returns the step with its node arguments resolved where they name
// a node known only when the step starts: each.node (the iteration's, see
// Iterate), sentinel.NAME.master by master (the master's node name, as the
// sentinels report it now or as the static walk leaves it). A step with
// nothing to resolve is returned as it is; after an error, the step is
// returned unresolved with it.
func (s *Step) Bind(master func(deployment string) (string, error)) (*Step, error) {
	var b *Step
	for name, a := range s.Args {
		dep, dyn := DynamicRef(a.Ref)
		if !dyn {
			continue
		}
		na := *a
		switch {
		case a.Ref == RefEach && s.Each != nil:
			na.Ref = s.Each.Key
		case a.Ref == RefEach:
			return s, fmt.Errorf("%s: each.node outside a group's iteration", s.Ref())
		default:
			m, err := master(dep)
			if err != nil {
				return s, fmt.Errorf("sentinel.%s.master: %w", dep, err)
			}
			na.Ref = m
		}
		if b == nil {
			b = s.clone()
		}
		b.Args[name] = &na
	}
	if b == nil {
		return s, nil
	}
	return b, nil
}

// Decl is the step as declared: the step itself, or the step a bound
// iteration was made from.
func (s *Step) Decl() *Step {
	if s.Origin != nil {
		return s.Origin
	}
	return s
}

// StaticMembers is the static walk's answer to a group's set at this
// point: the declared sentinels, data nodes or cluster nodes, or the nodes
// sim says follow another (replicas) or none (a cluster's masters).
func (r *Runbook) StaticMembers(g *Group, sim *redis.Sim) []string {
	var all []string
	switch g.Root {
	case blockSentinel:
		d := r.Sentinels[g.Deployment]
		if d == nil {
			return nil
		}
		switch g.Collection {
		case CollectionSentinels:
			return d.Sentinels
		case CollectionDataNodes:
			return d.DataNodes
		}
		all = d.DataNodes
	case blockCluster:
		d := r.Clusters[g.Deployment]
		if d == nil {
			return nil
		}
		if g.Collection == CollectionNodes {
			return d.Nodes
		}
		all = d.Nodes
	}
	var out []string
	for _, n := range all {
		if (sim.MasterOf(n) != "") == (g.Collection == CollectionReplicas) {
			out = append(out, n)
		}
	}
	return out
}

// StaticMaster is the master of a deployment in the static walk: the
// first data node that follows no other.
func (r *Runbook) StaticMaster(deployment string, sim *redis.Sim) (string, error) {
	d := r.Sentinels[deployment]
	if d == nil {
		return "", fmt.Errorf("no sentinel deployment %q", deployment)
	}
	for _, n := range d.DataNodes {
		if sim.MasterOf(n) == "" {
			return n, nil
		}
	}
	return "", fmt.Errorf("every data node of %q follows another", deployment)
}

// Walk calls fn for each step in the order the runbook runs them, with
// the static walk: a group's steps once per member it would have in a
// rehearsal, bound to it; sentinel.NAME.master bound to the walk's master.
// fn advances sim (a kind's Check). Steps that cannot be bound (a
// reference the decoder reported) are passed unbound.
func (r *Runbook) Walk(steps []*Step, sim *redis.Sim, fn func(s *Step)) {
	master := func(dep string) (string, error) { return r.StaticMaster(dep, sim) }
	for i := 0; i < len(steps); {
		s := steps[i]
		if s.Group == nil {
			b, _ := s.Bind(master)
			fn(b)
			i++
			continue
		}
		g := s.Group
		j := i
		for j < len(steps) && steps[j].Group == g {
			j++
		}
		for _, key := range r.StaticMembers(g, sim) {
			for _, gs := range steps[i:j] {
				b, _ := gs.Iterate(&Iteration{Group: g, Key: key}).Bind(master)
				fn(b)
			}
		}
		i = j
	}
}

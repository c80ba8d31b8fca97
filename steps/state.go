package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
	"github.com/zclconf/go-cty/cty"
)

// state reads the live state the expressions need: INFO of every node they
// mention (once per node, however many expressions mention it), the
// outputs of the steps that ran, and the live functions.
//
// s is the step the expressions belong to (nil outside a step): each.node
// reads the node of its group's iteration. sentinel.NAME.master reads the
// data node the sentinels name as the master now.
func (in *Interpreter) state(ctx context.Context, s *dsl.Step, exprs ...hcl.Expression) (dsl.EvalState, error) {
	st := dsl.EvalState{
		Nodes:     map[string]cty.Value{},
		Steps:     map[string]cty.Value{},
		Endpoints: map[string]cty.Value{},
		Masters:   map[string]cty.Value{},
		Live:      &liveFuncs{ctx: ctx, in: in},
	}
	// Steps that have not run read as status "pending" with a null output,
	// so that a rollback can ask which steps ran.
	for _, d := range in.rb.AllSteps() {
		if v, ok := in.outputs[d.Name]; ok {
			st.Steps[d.Name] = v
		} else {
			st.Steps[d.Name] = dsl.StepValue(StatusPending, cty.NilVal)
		}
	}
	// node reads a node once, however many traversals mention it.
	node := func(name string, tr hcl.Traversal, clients bool) (cty.Value, error) {
		if v, done := st.Nodes[name]; done {
			return v, nil
		}
		ns, err := in.readNode(ctx, name, clients)
		if err != nil {
			return cty.NilVal, ErrorAt(tr.SourceRange(), "Cannot read node", "%s", err)
		}
		st.Nodes[name] = ns.Value()
		return st.Nodes[name], nil
	}
	for _, expr := range exprs {
		for _, tr := range expr.Variables() {
			var err error
			switch root := tr.RootName(); {
			case root == "endpoint" && len(tr) >= 2:
				err = in.readEndpoint(st, tr)
			case root == "node" && len(tr) >= 2 && traverserName(tr[1]) != "":
				name := traverserName(tr[1])
				_, err = node(name, tr, mentions(exprs, "node", name, "app_clients"))
			case root == "each" && s != nil && s.Each != nil:
				st.EachKey = s.Each.Key
				if len(tr) >= 2 && traverserName(tr[1]) == "node" {
					st.Each, err = node(s.Each.Key, tr, mentions(exprs, "each", "node", "app_clients"))
				}
			case root == "sentinel" && len(tr) >= 3 && traverserName(tr[2]) == "master":
				dep := traverserName(tr[1])
				if _, done := st.Masters[dep]; done {
					continue
				}
				name, merr := in.sentinelMaster(ctx, dep)
				if merr != nil {
					return st, ErrorAt(tr.SourceRange(), "Cannot find the master", "%s", merr)
				}
				st.Masters[dep], err = node(name, tr, mentions(exprs, "sentinel", dep, "master", "app_clients"))
			}
			if err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// traverserName is the name a traversal step selects: node.NAME or
// node["NAME"].
func traverserName(t hcl.Traverser) string {
	switch t := t.(type) {
	case hcl.TraverseAttr:
		return t.Name
	case hcl.TraverseIndex:
		if t.Key.Type() == cty.String && t.Key.IsKnown() && !t.Key.IsNull() {
			return t.Key.AsString()
		}
	}
	return ""
}

// mentions reports whether one of exprs reads the traversal path
// (root, then attributes), e.g. node.NAME.app_clients.
func mentions(exprs []hcl.Expression, path ...string) bool {
	for _, expr := range exprs {
		for _, tr := range expr.Variables() {
			if tr.RootName() != path[0] || len(tr) < len(path) {
				continue
			}
			match := true
			for i, p := range path[1:] {
				if traverserName(tr[i+1]) != p {
					match = false
					break
				}
			}
			if match {
				return true
			}
		}
	}
	return false
}

// appClients counts the connections of a node that are neither
// understudy's own (named topology.ClientName) nor replication links.
func appClients(ctx context.Context, c *goredis.Client) (int64, error) {
	ids, err := redis.AppClients(ctx, c, topology.ClientName)
	return int64(len(ids)), err
}

// readNode reads INFO from a node.
func (in *Interpreter) readNode(ctx context.Context, name string, withClients bool) (dsl.NodeState, error) {
	n, c, err := topology.NodeClient(in.opts.Topology, name)
	if err != nil {
		return dsl.NodeState{}, err
	}
	info, err := redis.ReadInfo(ctx, c)
	if err != nil {
		return dsl.NodeState{}, fmt.Errorf("INFO on node %q: %w", name, err)
	}
	if err := in.uncountOwnKeys(ctx, c, info); err != nil {
		return dsl.NodeState{}, fmt.Errorf("node %q: %w", name, err)
	}
	auth := n.MasterAuth()
	ns := dsl.NodeState{Name: name, Address: n.Address(), Info: info, AppClients: -1, Username: auth.User, Password: auth.Password}
	if withClients {
		if ns.AppClients, err = appClients(ctx, c); err != nil {
			return ns, fmt.Errorf("CLIENT LIST on node %q: %w", name, err)
		}
	}
	return ns, nil
}

// uncountOwnKeys leaves understudy's own keys out of db0's key count in
// info, so that node.NAME.keys counts the application's: the excluded keys
// that are names rather than patterns (the apply lock), when they exist.
// Pattern exclusions (the canary's keys) are not subtracted: counting them
// would need a scan.
func (in *Interpreter) uncountOwnKeys(ctx context.Context, c *goredis.Client, info map[string]string) error {
	var own []string
	for _, k := range in.opts.ExcludeKeys {
		if !strings.ContainsAny(k, `*?[\`) {
			own = append(own, k)
		}
	}
	if len(own) == 0 || info["db0"] == "" {
		return nil
	}
	if c.Options().DB != 0 {
		return nil
	}
	n, err := c.Exists(ctx, own...).Result()
	if err != nil || n == 0 {
		return err
	}
	ks := redis.ParseKeyspace(info["db0"])
	ks.Keys -= n
	if ks.Keys <= 0 {
		delete(info, "db0")
		return nil
	}
	info["db0"] = fmt.Sprintf("keys=%d,expires=%d,avg_ttl=%d", ks.Keys, max(ks.Expires-n, 0), ks.AvgTTL)
	return nil
}

// readEndpoint adds endpoint.NAME to st for a traversal tr of it: the
// address a program dials and the URL with the credentials of the node
// behind it. An endpoint that no program can dial (live, repointed by a
// command) is left unknown, and reading its address or url is an error.
func (in *Interpreter) readEndpoint(st dsl.EvalState, tr hcl.Traversal) error {
	name := traverserName(tr[1])
	if _, done := st.Endpoints[name]; done || name == "" {
		return nil
	}
	ep, err := in.opts.Topology.Endpoint(name)
	if err != nil {
		return ErrorAt(tr.SourceRange(), "Cannot read endpoint", "%s", err)
	}
	d, ok := ep.(topology.Dialable)
	if !ok {
		if len(tr) >= 3 && traverserName(tr[2]) != "name" {
			return ErrorAt(tr.SourceRange(), "Endpoint has no address", "Endpoint %q has no address a program can dial here: live, it is repointed by its switch command, and its address is the one your application uses.", name)
		}
		return nil
	}
	es := dsl.EndpointState{Name: name, Address: d.Address()}
	if n, err := in.opts.Topology.Node(ep.Target()); err == nil {
		auth := n.MasterAuth()
		es.Username, es.Password = auth.User, auth.Password
	}
	st.Endpoints[name] = es.Value()
	return nil
}

// liveFuncs answers the dsl's live functions for one evaluation.
type liveFuncs struct {
	ctx context.Context
	in  *Interpreter
}

func (l *liveFuncs) InSync(replica, master string) (bool, error) {
	m, err := l.in.opts.Topology.Node(master)
	if err != nil {
		return false, err
	}
	r, err := l.in.opts.Topology.Node(replica)
	if err != nil {
		return false, err
	}
	mc, err := m.Client()
	if err != nil {
		return false, err
	}
	rc, err := r.Client()
	if err != nil {
		return false, err
	}
	ok, _, err := redis.InSync(l.ctx, rc, mc, m.Address())
	return ok, err
}

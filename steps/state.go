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
func (in *Interpreter) state(ctx context.Context, exprs ...hcl.Expression) (dsl.EvalState, error) {
	st := dsl.EvalState{
		Nodes:     map[string]cty.Value{},
		Steps:     map[string]cty.Value{},
		Endpoints: map[string]cty.Value{},
		Live:      &liveFuncs{ctx: ctx, in: in},
	}
	// Steps that have not run read as status "pending" with a null output,
	// so that a rollback can ask which steps ran.
	for _, s := range in.rb.AllSteps() {
		if v, ok := in.outputs[s.Name]; ok {
			st.Steps[s.Name] = v
		} else {
			st.Steps[s.Name] = dsl.StepValue(StatusPending, cty.NilVal)
		}
	}
	for _, expr := range exprs {
		for _, tr := range expr.Variables() {
			if tr.RootName() == "endpoint" && len(tr) >= 2 {
				if err := in.readEndpoint(st, tr); err != nil {
					return st, err
				}
				continue
			}
			if tr.RootName() != "node" || len(tr) < 2 {
				continue
			}
			name := traverserName(tr[1])
			if name == "" {
				continue
			}
			if _, done := st.Nodes[name]; done {
				continue
			}
			ns, err := in.readNode(ctx, name, mentions(exprs, name, "app_clients"))
			if err != nil {
				return st, ErrorAt(tr.SourceRange(), "Cannot read node", "%s", err)
			}
			st.Nodes[name] = ns.Value()
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

// mentions reports whether one of exprs reads node.NAME.ATTR.
func mentions(exprs []hcl.Expression, node, attr string) bool {
	for _, expr := range exprs {
		for _, tr := range expr.Variables() {
			if tr.RootName() == "node" && len(tr) >= 3 && traverserName(tr[1]) == node && traverserName(tr[2]) == attr {
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
	n, err := in.opts.Topology.Node(name)
	if err != nil {
		return dsl.NodeState{}, fmt.Errorf("node %q: %w", name, err)
	}
	c, err := n.Client()
	if err != nil {
		return dsl.NodeState{}, fmt.Errorf("node %q: %w", name, err)
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

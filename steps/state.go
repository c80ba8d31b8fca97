package steps

import (
	"context"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/zclconf/go-cty/cty"
)

// state reads the live state an expression needs: INFO of every node it
// mentions, the outputs of the steps that ran, and the live functions.
func (in *Interpreter) state(ctx context.Context, expr hcl.Expression) (dsl.EvalState, error) {
	st := dsl.EvalState{
		Nodes: map[string]cty.Value{},
		Steps: map[string]cty.Value{},
		Live:  &liveFuncs{ctx: ctx, in: in},
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
	for _, tr := range expr.Variables() {
		if tr.RootName() != "node" || len(tr) < 2 {
			continue
		}
		name := stepName(tr[1])
		if name == "" {
			continue
		}
		if _, done := st.Nodes[name]; done {
			continue
		}
		ns, err := in.readNode(ctx, name, mentions(expr, name, "app_clients"))
		if err != nil {
			return st, errorAt(tr.SourceRange(), "Cannot read node", "%s", err)
		}
		st.Nodes[name] = ns.Value()
	}
	return st, nil
}

// stepName is the name a traversal step selects: node.NAME or node["NAME"].
func stepName(t hcl.Traverser) string {
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

// mentions reports whether expr reads node.NAME.ATTR.
func mentions(expr hcl.Expression, node, attr string) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() != "node" || len(tr) < 3 {
			continue
		}
		if stepName(tr[1]) == node && stepName(tr[2]) == attr {
			return true
		}
	}
	return false
}

// appClients counts the connections of a node that are neither
// understudy's own (CLIENT SETNAME understudy) nor replication links.
func appClients(ctx context.Context, c *goredis.Client) (int64, error) {
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line == "" {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		if f["name"] == ClientName || strings.ContainsAny(f["flags"], "MS") {
			continue
		}
		n++
	}
	return n, nil
}

// readNode reads INFO from a node.
func (in *Interpreter) readNode(ctx context.Context, name string, withClients bool) (dsl.NodeState, error) {
	c, err := in.opts.Backend.Client(name)
	if err != nil {
		return dsl.NodeState{}, fmt.Errorf("node %q: %w", name, err)
	}
	info, err := ReadInfo(ctx, c)
	if err != nil {
		return dsl.NodeState{}, fmt.Errorf("INFO on node %q: %w", name, err)
	}
	addr, _ := in.opts.Backend.Address(name)
	ns := dsl.NodeState{Name: name, Address: addr, Info: info, AppClients: -1}
	if withClients {
		if ns.AppClients, err = appClients(ctx, c); err != nil {
			return ns, fmt.Errorf("CLIENT LIST on node %q: %w", name, err)
		}
	}
	return ns, nil
}

// ReadInfo sends INFO with the given section (the default set when none;
// Redis 6.0 takes at most one) and parses every field.
func ReadInfo(ctx context.Context, c *goredis.Client, sections ...string) (map[string]string, error) {
	s, err := c.Info(ctx, sections...).Result()
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			out[k] = v
		}
	}
	return out
}

func infoInt(info map[string]string, key string) int64 {
	n, _ := strconv.ParseInt(info[key], 10, 64)
	return n
}

// nodeVersion tells a node's engine and version from INFO.
func nodeVersion(info map[string]string) (redis.Version, error) {
	engine, num := redis.EngineVersionFromInfo(info)
	v, err := redis.ParseVersion(num)
	if err != nil {
		return redis.Version{}, fmt.Errorf("cannot read the server version from INFO: %w", err)
	}
	v.Engine = engine
	return v, nil
}

// liveFuncs answers the dsl's live functions for one evaluation.
type liveFuncs struct {
	ctx context.Context
	in  *Interpreter
}

func (l *liveFuncs) InSync(replica, master string) (bool, error) {
	mc, err := l.in.opts.Backend.Client(master)
	if err != nil {
		return false, err
	}
	rc, err := l.in.opts.Backend.Client(replica)
	if err != nil {
		return false, err
	}
	maddr, _ := l.in.opts.Backend.Address(master)
	ok, _, err := inSync(l.ctx, rc, mc, maddr)
	return ok, err
}

// inSync checks a replica against its master the way redis-facts.md says:
// read the master's offset FIRST, then the replica's link, sync state,
// replication id and offset. why says what is missing.
func inSync(ctx context.Context, replica, master *goredis.Client, masterAddr string) (ok bool, why string, err error) {
	m, err := ReadInfo(ctx, master, "replication")
	if err != nil {
		return false, "", fmt.Errorf("INFO replication on master: %w", err)
	}
	r, err := ReadInfo(ctx, replica, "replication")
	if err != nil {
		return false, "", fmt.Errorf("INFO replication on replica: %w", err)
	}
	switch {
	case r["role"] != "slave":
		return false, "replica is a " + r["role"], nil
	case masterAddr != "" && !sameAddr(net.JoinHostPort(r["master_host"], r["master_port"]), masterAddr):
		return false, fmt.Sprintf("replica follows %s:%s, not %s", r["master_host"], r["master_port"], masterAddr), nil
	case r["master_link_status"] != "up":
		return false, "master_link_status is " + r["master_link_status"], nil
	case r["master_sync_in_progress"] != "0":
		return false, "sync in progress", nil
	case r["master_replid"] != m["master_replid"]:
		return false, "replication ids differ", nil
	case infoInt(r, "slave_repl_offset") < infoInt(m, "master_repl_offset"):
		return false, fmt.Sprintf("replica offset %s behind master offset %s", r["slave_repl_offset"], m["master_repl_offset"]), nil
	}
	return true, "", nil
}

func sameAddr(a, b string) bool {
	norm := func(s string) string {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return s
		}
		if h == "localhost" || h == "::1" {
			h = "127.0.0.1"
		}
		return net.JoinHostPort(h, p)
	}
	return norm(a) == norm(b)
}

package dsl

import (
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// nodeType is the type of node.NAME in expressions. Attributes other than
// name and address are live: unknown at validate and plan time, read from the
// server each time an expression that mentions them is evaluated.
var nodeType = cty.Object(map[string]cty.Type{
	"name":     cty.String,
	"address":  cty.String,
	"info":     cty.Map(cty.String),
	"role":     cty.String,
	"engine":   cty.String,
	"version":  cty.String,
	"keys":     cty.Number,
	"keyspace": cty.Map(keyspaceType),
	// app_clients counts connections other than understudy's own and
	// replication links (read with CLIENT LIST when an expression uses it).
	"app_clients": cty.Number,
	// username and password are the credentials a program uses to connect
	// (in a rehearsal, the rehearsal's); "" when the node has none. The
	// password is a secret: plans show what reads it as (sensitive).
	"username": cty.String,
	"password": cty.String,
})

// endpointType is the type of endpoint.NAME. address (host:port a program
// dials; in a rehearsal the proxy's) and url (redis://[user:password@]host:port)
// are live: known when a step or the workload evaluates them.
var endpointType = cty.Object(map[string]cty.Type{
	"name":    cty.String,
	"address": cty.String,
	"url":     cty.String,
})

var keyspaceType = cty.Object(map[string]cty.Type{
	"keys":    cty.Number,
	"expires": cty.Number,
	"avg_ttl": cty.Number,
})

var stepType = cty.Object(map[string]cty.Type{
	"output": cty.DynamicPseudoType,
	"status": cty.String,
})

// NodeState is what the interpreter read from a node for one evaluation.
type NodeState struct {
	Name    string
	Address string
	// Info holds every field of INFO (all sections), e.g. "role": "master".
	Info map[string]string
	// AppClients is the number of application connections, -1 when it was
	// not read.
	AppClients int64
	// Username and Password are what a program uses to connect (secrets).
	Username, Password string
}

// Value turns the state into the node.NAME object seen by expressions.
func (s NodeState) Value() cty.Value {
	info := map[string]cty.Value{}
	keyspace := map[string]cty.Value{}
	var total int64
	for k, v := range s.Info {
		info[k] = cty.StringVal(v)
		if strings.HasPrefix(k, "db") {
			if _, err := strconv.Atoi(k[2:]); err == nil {
				ks := redis.ParseKeyspace(v)
				total += ks.Keys
				keyspace[k] = cty.ObjectVal(map[string]cty.Value{
					"keys":    cty.NumberIntVal(ks.Keys),
					"expires": cty.NumberIntVal(ks.Expires),
					"avg_ttl": cty.NumberIntVal(ks.AvgTTL),
				})
			}
		}
	}
	engine, version := redis.EngineVersionFromInfo(s.Info)
	role := redis.RoleFromInfo(s.Info)
	infoVal := cty.MapValEmpty(cty.String)
	if len(info) > 0 {
		infoVal = cty.MapVal(info)
	}
	ksVal := cty.MapValEmpty(keyspaceType)
	if len(keyspace) > 0 {
		ksVal = cty.MapVal(keyspace)
	}
	appClients := cty.UnknownVal(cty.Number)
	if s.AppClients >= 0 {
		appClients = cty.NumberIntVal(s.AppClients)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"app_clients": appClients,
		"name":        cty.StringVal(s.Name),
		"address":     cty.StringVal(s.Address),
		"info":        infoVal,
		"role":        cty.StringVal(role),
		"engine":      cty.StringVal(string(engine)),
		"version":     cty.StringVal(version),
		"keys":        cty.NumberIntVal(total),
		"keyspace":    ksVal,
		"username":    cty.StringVal(s.Username),
		"password":    cty.StringVal(s.Password),
	})
}

// unknownNode is node.NAME before any server was read.
func unknownNode(n *Node) cty.Value {
	addr := cty.UnknownVal(cty.String)
	if n != nil && n.Address != "" {
		addr = cty.StringVal(n.Address)
	}
	attrs := map[string]cty.Value{}
	for name, ty := range nodeType.AttributeTypes() {
		attrs[name] = cty.UnknownVal(ty)
	}
	if n.Name != "" {
		attrs["name"] = cty.StringVal(n.Name)
	}
	attrs["address"] = addr
	return cty.ObjectVal(attrs)
}

// staticContext holds what is known without a server: var, local and the
// functions (live functions return unknown values).
func (r *Runbook) staticContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   objectOrEmpty(r.vars),
			"local": objectOrEmpty(r.locals),
		},
		Functions: r.functions(nil),
	}
}

// EvalState is what the interpreter knows at the moment it evaluates a live
// expression.
type EvalState struct {
	// Nodes holds node.NAME values read just now; nodes not in the map are
	// unknown.
	Nodes map[string]cty.Value
	// Steps holds step.NAME values of the steps that ran.
	Steps map[string]cty.Value
	// Endpoints holds endpoint.NAME values read just now (EndpointState);
	// endpoints not in the map have unknown address and url.
	Endpoints map[string]cty.Value
	// Live answers the live functions (in_sync); nil makes them unknown.
	Live Live
	// Each is each.node of a group's iteration, read just now (with
	// EachKey); cty.NilVal leaves it unknown.
	Each    cty.Value
	EachKey string
	// Masters holds sentinel.NAME.master values read just now, by
	// deployment; deployments not in the map have an unknown master.
	Masters map[string]cty.Value
}

// EvalContext builds the context for a live expression.
func (r *Runbook) EvalContext(st EvalState) *hcl.EvalContext {
	nodes := map[string]cty.Value{}
	for name, n := range r.Nodes {
		if v, ok := st.Nodes[name]; ok {
			nodes[name] = v
		} else {
			nodes[name] = unknownNode(n)
		}
	}
	steps := map[string]cty.Value{}
	for _, s := range r.AllSteps() {
		steps[s.Name] = cty.UnknownVal(stepType)
	}
	for name, v := range st.Steps {
		steps[name] = v
	}
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":      objectOrEmpty(r.vars),
			"local":    objectOrEmpty(r.locals),
			"node":     objectOrEmpty(nodes),
			"step":     objectOrEmpty(steps),
			"endpoint": r.endpointsValue(st.Endpoints),
			"each":     eachValue(st),
			"sentinel": r.sentinelsValue(st.Masters),
		},
		Functions: r.functions(st.Live),
	}
}

// eachValue is each in a group's iteration: key and node.
func eachValue(st EvalState) cty.Value {
	key, node := cty.UnknownVal(cty.String), unknownNode(&Node{})
	if st.EachKey != "" {
		key = cty.StringVal(st.EachKey)
	}
	if st.Each != cty.NilVal {
		node = st.Each
	}
	return cty.ObjectVal(map[string]cty.Value{"key": key, "node": node})
}

// sentinelsValue is sentinel.NAME for every deployment.
func (r *Runbook) sentinelsValue(masters map[string]cty.Value) cty.Value {
	out := map[string]cty.Value{}
	for name, d := range r.Sentinels {
		m, ok := masters[name]
		if !ok {
			m = unknownNode(&Node{})
		}
		out[name] = cty.ObjectVal(map[string]cty.Value{
			"name":        cty.StringVal(name),
			"master_name": cty.StringVal(d.MasterName),
			"master":      m,
		})
	}
	return objectOrEmpty(out)
}

// StepValue is step.NAME for a step that ran.
func StepValue(status string, output cty.Value) cty.Value {
	if output == cty.NilVal {
		output = cty.NullVal(cty.DynamicPseudoType)
	}
	return cty.ObjectVal(map[string]cty.Value{"output": output, "status": cty.StringVal(status)})
}

func (r *Runbook) endpointsValue(read map[string]cty.Value) cty.Value {
	eps := map[string]cty.Value{}
	for name := range r.Endpoints {
		if v, ok := read[name]; ok {
			eps[name] = v
			continue
		}
		attrs := map[string]cty.Value{}
		for attr, ty := range endpointType.AttributeTypes() {
			attrs[attr] = cty.UnknownVal(ty)
		}
		attrs["name"] = cty.StringVal(name)
		eps[name] = cty.ObjectVal(attrs)
	}
	return objectOrEmpty(eps)
}

// EndpointState is what the interpreter knows of an endpoint when it
// evaluates an expression: the address a program dials and the
// credentials of the node behind it.
type EndpointState struct {
	Name, Address      string
	Username, Password string
}

// Value turns the state into the endpoint.NAME object seen by expressions.
func (s EndpointState) Value() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(s.Name),
		"address": cty.StringVal(s.Address),
		"url":     cty.StringVal(RedisURL(s.Address, s.Username, s.Password)),
	})
}

// RedisURL is redis://[[user]:password@]host:port, with the credentials
// escaped as a URL's user information.
func RedisURL(addr, user, password string) string {
	u := url.URL{Scheme: "redis", Host: addr}
	switch {
	case password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	}
	return u.String()
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// checkStaticRefs reports references that a static expression (a variable
// default, a local, a node address, a step timeout) may not make.
func (r *Runbook) checkStaticRefs(expr hcl.Expression, what string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		switch root := tr.RootName(); root {
		case "var":
			diags = append(diags, r.checkVarRef(tr)...)
		case "local":
			// checked by evaluateLocals' ordering
		case "node", "step", "endpoint", "each", blockSentinel:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Live value in a static setting",
				Detail:   fmt.Sprintf("%s must be known before any server is read, so it can refer only to var.* and local.*, not to %s.*.", what, root),
				Subject:  tr.SourceRange().Ptr(),
			})
		default:
			diags = append(diags, unknownRoot(tr, []string{"var", "local"}))
		}
	}
	return diags
}

func (r *Runbook) checkVarRef(tr hcl.Traversal) hcl.Diagnostics {
	if len(tr) < 2 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid reference",
			Detail:   "A reference to a variable is written var.NAME.",
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
	return checkDeclared(tr, "variable", mapKeys(r.Variables))
}

// checkDeclared reports a reference ROOT.NAME whose NAME is not among names.
func checkDeclared(tr hcl.Traversal, what string, names []string) hcl.Diagnostics {
	if len(tr) < 2 {
		return nil
	}
	a, ok := tr[1].(hcl.TraverseAttr)
	if !ok || slices.Contains(names, a.Name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Reference to undeclared " + what,
		Detail:   fmt.Sprintf("No %s named %q is declared.%s", what, a.Name, suggest(a.Name, names)),
		Subject:  tr.SourceRange().Ptr(),
	}}
}

func unknownRoot(tr hcl.Traversal, allowed []string) *hcl.Diagnostic {
	slices.Sort(allowed)
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unknown reference",
		Detail:   fmt.Sprintf("%q is not something a runbook can refer to here; use one of %s.%s", tr.RootName(), strings.Join(allowed, ", "), suggest(tr.RootName(), allowed)),
		Subject:  tr.SourceRange().Ptr(),
	}
}

// checkLiveRefs checks the references of an expression evaluated at run
// time: nodes must be declared, INFO fields should be known ones, steps must
// be declared before the step that reads them.
func (r *Runbook) checkLiveRefs(expr hcl.Expression, before map[string]*Step) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		switch root := tr.RootName(); root {
		case "var":
			diags = append(diags, r.checkVarRef(tr)...)
		case "local":
			diags = append(diags, checkDeclared(tr, "local value", mapKeys(r.Locals))...)
		case "node":
			diags = append(diags, r.checkNodeTraversal(tr)...)
		case "step":
			if len(tr) < 2 {
				continue
			}
			a, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				continue
			}
			if _, ok := before[a.Name]; !ok {
				detail := fmt.Sprintf("No step named %q runs before this one.", a.Name)
				if r.stepDeclared(a.Name) {
					detail = fmt.Sprintf("Step %q runs after this one, so its output is not known yet.", a.Name)
				} else {
					detail += suggest(a.Name, mapKeys(before))
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to a step that has not run",
					Detail:   detail,
					Subject:  tr.SourceRange().Ptr(),
				})
			}
		case "endpoint":
			diags = append(diags, checkDeclared(tr, "endpoint", mapKeys(r.Endpoints))...)
		case "each":
			diags = append(diags, r.checkEachTraversal(tr)...)
		case blockSentinel:
			diags = append(diags, r.checkSentinelTraversal(tr)...)
		default:
			roots := []string{"var", "local", "node", "step", "endpoint"}
			if len(r.Sentinels) > 0 {
				roots = append(roots, blockSentinel)
			}
			if r.group != nil {
				roots = append(roots, "each")
			}
			diags = append(diags, unknownRoot(tr, roots))
		}
	}
	return diags
}

func (r *Runbook) stepDeclared(name string) bool {
	if r.stepLabels[name] {
		return true
	}
	for _, s := range r.AllSteps() {
		if s.Name == name {
			return true
		}
	}
	return false
}

// checkEachTraversal checks each.key and each.node[.ATTR...] in a group.
func (r *Runbook) checkEachTraversal(tr hcl.Traversal) hcl.Diagnostics {
	if r.group == nil {
		return hcl.Diagnostics{eachOutsideGroup(tr.SourceRange())}
	}
	if len(tr) < 2 || (traversalName(tr[1]) != "key" && traversalName(tr[1]) != "node") {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown each attribute",
			Detail:   "A group's iteration has each.key (the node's name) and each.node (the node, with the attributes of node.NAME).",
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
	return checkInfoField(tr, 2)
}

// checkSentinelTraversal checks sentinel.NAME.master[.ATTR...],
// sentinel.NAME.master_name and sentinel.NAME.name.
func (r *Runbook) checkSentinelTraversal(tr hcl.Traversal) hcl.Diagnostics {
	if diags := checkDeclared(tr, "sentinel deployment", mapKeys(r.Sentinels)); diags.HasErrors() {
		return diags
	}
	attrs := []string{"master", "master_name", "name"}
	if len(tr) < 3 || !slices.Contains(attrs, traversalName(tr[2])) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown sentinel attribute",
			Detail:   "An expression reads sentinel.NAME.master (the master as the sentinels report it, with the attributes of node.NAME), sentinel.NAME.master_name or sentinel.NAME.name; its replicas and sentinels are iterated with a group.",
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
	return checkInfoField(tr, 3)
}

func (r *Runbook) checkNodeTraversal(tr hcl.Traversal) hcl.Diagnostics {
	if diags := checkDeclared(tr, "node", r.NodeNames()); diags.HasErrors() {
		return diags
	}
	return checkInfoField(tr, 2)
}

// checkInfoField checks the INFO field of a node traversal whose node
// attributes start at tr[at]: NODE.info.FIELD.
func checkInfoField(tr hcl.Traversal, at int) hcl.Diagnostics {
	if len(tr) < at+2 {
		return nil
	}
	if attr, ok := tr[at].(hcl.TraverseAttr); !ok || attr.Name != "info" {
		return nil
	}
	var field string
	switch f := tr[at+1].(type) {
	case hcl.TraverseAttr:
		field = f.Name
	case hcl.TraverseIndex:
		if f.Key.Type() == cty.String {
			field = f.Key.AsString()
		}
	}
	if field == "" || redis.KnownInfoField(field) {
		return nil
	}
	hint := ""
	if sug := redis.SuggestInfoField(field); sug != "" {
		hint = fmt.Sprintf(" Did you mean %q?", sug)
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Unknown INFO field",
		Detail:   fmt.Sprintf("No supported version (Redis 6.0 to 8.0, Valkey 8) reports an INFO field %q, so the expression could never be evaluated.%s", field, hint),
		Subject:  tr.SourceRange().Ptr(),
	}}
}

package dsl

import (
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Plan is what a runbook will do, resolved as far as possible without a
// server: static values are shown resolved, live conditions as written.
type Plan struct {
	Runbook   string
	Variables []PlanValue
	Nodes     []PlanNode
	Endpoints []PlanEndpoint
	Steps     []PlanStep
	Rollback  []PlanStep
	Warnings  []string
}

// PlanValue is a name and its resolved value.
type PlanValue struct {
	Name, Value string
}

// PlanNode is a node in a plan. Secrets are never included.
type PlanNode struct {
	Name, Address, Auth, Rehearsal string
}

// PlanEndpoint is an endpoint in a plan.
type PlanEndpoint struct {
	Name, Target, Switch, Connections string
}

// PlanStep is one step in a plan.
type PlanStep struct {
	Number          int
	Kind, Name      string
	Source          string // file:line
	Description     string
	Timeout         string
	Sends           []string // what the step will send or do
	Until           string
	When            string
	Asserts         []string
	OnFailure       string
	PointOfNoReturn string
}

// BuildPlan resolves the runbook into a plan.
func (r *Runbook) BuildPlan(name string) *Plan {
	p := &Plan{Runbook: name}
	for _, n := range sortedKeys(r.Variables) {
		val := "(unknown)"
		if r.sensitive[n] {
			val = "(sensitive)"
		} else if v, ok := r.vars[n]; ok {
			val = showValue(v)
		}
		p.Variables = append(p.Variables, PlanValue{Name: n, Value: val})
	}
	for _, n := range r.NodeNames() {
		node := r.Nodes[n]
		pn := PlanNode{Name: n, Address: node.Address, Auth: "none"}
		if pn.Address == "" {
			pn.Address = "(not resolved: an env() it reads is unset)"
		}
		if node.HasPassword {
			pn.Auth = "password (sensitive)"
			if node.Username != "" {
				pn.Auth = "ACL user (sensitive)"
			}
		}
		if node.Rehearsal != nil {
			pn.Rehearsal = node.Rehearsal.Version.String()
		}
		p.Nodes = append(p.Nodes, pn)
	}
	for _, n := range sortedKeys(r.Endpoints) {
		e := r.Endpoints[n]
		pe := PlanEndpoint{Name: n, Target: "node." + e.Target, Connections: e.Connections}
		if len(e.Switch) > 0 {
			pe.Switch = strings.Join(e.Switch, " ")
		}
		p.Endpoints = append(p.Endpoints, pe)
	}
	ver := r.rehearsalVersions()
	for i, s := range r.Steps {
		p.Steps = append(p.Steps, r.planStep(i+1, s, ver))
		if s.Kind == "upgrade" {
			ver[s.NodeArg("node")] = s.Args["version"].Version
		}
	}
	if r.Rollback != nil {
		for i, s := range r.Rollback.Steps {
			p.Rollback = append(p.Rollback, r.planStep(i+1, s, ver))
		}
	}
	for _, e := range r.MissingEnv() {
		p.Warnings = append(p.Warnings, fmt.Sprintf("environment variable %s is not set: apply will need it", e))
	}
	return p
}

func (r *Runbook) rehearsalVersions() map[string]redis.Version {
	ver := map[string]redis.Version{}
	for name, n := range r.Nodes {
		if n.Rehearsal != nil {
			ver[name] = n.Rehearsal.Version
		}
	}
	return ver
}

func (r *Runbook) planStep(num int, s *Step, ver map[string]redis.Version) PlanStep {
	ps := PlanStep{
		Number: num, Kind: s.Kind, Name: s.Name, Description: s.Description,
		Source:    fmt.Sprintf("%s:%d", s.DeclRange.Filename, s.DeclRange.Start.Line),
		Timeout:   s.Timeout.String(),
		OnFailure: s.OnFailure, PointOfNoReturn: s.PointOfNoReturn,
	}
	if s.Until != nil {
		ps.Until = r.exprText(s.Until)
	}
	if s.When != nil {
		ps.When = r.exprText(s.When)
	}
	for _, a := range s.Asserts {
		ps.Asserts = append(ps.Asserts, r.exprText(a.Condition))
	}
	node := func(arg string) string {
		n := s.NodeArg(arg)
		if v, ok := ver[n]; ok {
			return fmt.Sprintf("node.%s (rehearsal %s)", n, v)
		}
		return "node." + n
	}
	addr := func(arg string) string {
		if n := r.Nodes[s.NodeArg(arg)]; n != nil && n.Address != "" {
			return n.Address
		}
		return "<address of node." + s.NodeArg(arg) + ">"
	}
	switch s.Kind {
	case "assert":
		ps.Sends = append(ps.Sends, "INFO on the nodes it reads, then checks: "+r.exprText(s.Args["condition"].Expr))
	case "wait":
		ps.Sends = append(ps.Sends, fmt.Sprintf("re-reads live state with back-off (%s to %s) until the condition holds, for at most %s", s.Retry.Interval, s.Retry.MaxInterval, s.Timeout))
	case "command":
		ps.Sends = append(ps.Sends, fmt.Sprintf("%s to %s", r.argText(s.Args["command"]), node("node")))
	case "replicate":
		ps.Sends = append(ps.Sends,
			fmt.Sprintf("checks that %s can replicate from %s (RDB versions), refusing before any write", node("replica"), node("master")),
			fmt.Sprintf("CONFIG SET masteruser/masterauth (sensitive) and REPLICAOF %s to %s", strings.Replace(addr("master"), ":", " ", 1), node("replica")))
	case "promote":
		ps.Sends = append(ps.Sends, "REPLICAOF NO ONE to "+node("node"))
	case "switchover":
		ps.Sends = append(ps.Sends, r.describeSwitchover(s, ver)...)
	case "repoint":
		ps.Sends = append(ps.Sends, fmt.Sprintf("points endpoint.%s at %s at once, without a hold: writes the old master accepts from then on are not on the new one", s.Args["endpoint"].Ref, node("to")))
	case "upgrade":
		ps.Sends = append(ps.Sends, fmt.Sprintf("replaces the server of %s with %s, keeping its data and address (rehearsal: a new container; live: the node's lifecycle command)", node("node"), s.Args["version"].Version))
	case "verify":
		method := s.StringArg("method", VerifyAuto)
		ps.Sends = append(ps.Sends, fmt.Sprintf("compares the datasets of %s and %s (method %s: DEBUG DIGEST where allowed, else SCAN by type and value)", node("a"), node("b"), method))
		if ex := s.StringListArg("exclude"); len(ex) > 0 {
			ps.Sends = append(ps.Sends, "leaves out keys matching "+strings.Join(ex, ", "))
		}
	case "exec":
		ps.Sends = append(ps.Sends, "runs locally: "+r.argText(s.Args["command"]))
	}
	return ps
}

func (r *Runbook) describeSwitchover(s *Step, ver map[string]redis.Version) []string {
	from, to := s.NodeArg("from"), s.NodeArg("to")
	method := s.StringArg("method", SwitchAuto)
	var out []string
	ep := s.NodeArg("endpoint")
	if a, ok := s.Args["endpoint"]; ok {
		ep = a.Ref
	}
	seq := func(v redis.Version) string {
		switch {
		case method == SwitchFailover:
			return fmt.Sprintf("FAILOVER TO <node.%s> on node.%s, then waits until node.%s is master", to, from, to)
		case v.HasFailover():
			return "pause sequence (6.2+): CLIENT PAUSE WRITE on the old master, read its master_repl_offset, wait for the replica's offset to reach it, REPLICAOF NO ONE on the replica, repoint the endpoint, REPLICAOF <new> on the old master, CLIENT UNPAUSE"
		default:
			return "pause sequence (6.0, no WRITE pause): min-replicas-to-write 1 as a fence, MULTI/CLIENT PAUSE/INFO replication/EXEC for the offset, wait for the replica to reach it, REPLICAOF NO ONE on the replica (the old master now answers NOREPLICAS), repoint the endpoint, REPLICAOF <new> on the old master when the pause ends, restore min-replicas-to-write"
		}
	}
	if v, ok := ver[from]; ok {
		out = append(out, fmt.Sprintf("method %s; for the rehearsal versions (%s → %s): %s", method, v, ver[to], seq(v)))
	} else {
		out = append(out, fmt.Sprintf("method %s, chosen at run time from node.%s's version", method, from))
	}
	if ep != "" {
		out = append(out, fmt.Sprintf("endpoint.%s: held while the master changes (no command reaches either node), then pointed at node.%s", ep, to))
	}
	if !s.BoolArg("demote", true) {
		out = append(out, fmt.Sprintf("node.%s is left without a master (demote = false)", from))
	}
	out = append(out, fmt.Sprintf("other replicas of node.%s are re-pointed to node.%s; writes stay paused for at most %s", from, to, s.DurationArg("max_pause", DefaultMaxPause)))
	return out
}

// exprText returns an expression's source text as written.
func (r *Runbook) exprText(expr hcl.Expression) string {
	if expr == nil {
		return ""
	}
	rng := expr.Range()
	f, ok := r.Files[rng.Filename]
	if !ok || rng.End.Byte > len(f.Bytes) {
		return "(expression)"
	}
	return string(f.Bytes[rng.Start.Byte:rng.End.Byte])
}

// argText shows an argument resolved when it is known without a server,
// otherwise as written.
func (r *Runbook) argText(a *Arg) string {
	if a == nil {
		return ""
	}
	if a.Value != cty.NilVal && a.Value.IsWhollyKnown() {
		return showValue(a.Value)
	}
	return r.exprText(a.Expr)
}

// ExprText is exprText for other packages' messages.
func (r *Runbook) ExprText(expr hcl.Expression) string { return r.exprText(expr) }

func showValue(v cty.Value) string {
	if !v.IsKnown() {
		return "(known at run time)"
	}
	if v.IsNull() {
		return "null"
	}
	switch {
	case v.Type() == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case v.Type() == cty.Bool:
		return fmt.Sprint(v.True())
	case v.CanIterateElements():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if v.Type().IsObjectType() || v.Type().IsMapType() {
				parts = append(parts, k.AsString()+" = "+showValue(e))
			} else {
				parts = append(parts, showValue(e))
			}
		}
		if v.Type().IsObjectType() || v.Type().IsMapType() {
			return "{ " + strings.Join(parts, ", ") + " }"
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return v.GoString()
}

func sortedKeys[V any](m map[string]V) []string {
	k := mapKeys(m)
	sort.Strings(k)
	return k
}

// WriteText writes the plan for a terminal.
func (p *Plan) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Plan for %s\n\n", p.Runbook)
	if len(p.Variables) > 0 {
		fmt.Fprintln(w, "Variables:")
		for _, v := range p.Variables {
			fmt.Fprintf(w, "  %s = %s\n", v.Name, v.Value)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Nodes:")
	for _, n := range p.Nodes {
		fmt.Fprintf(w, "  %-10s address %s, auth %s", n.Name, n.Address, n.Auth)
		if n.Rehearsal != "" {
			fmt.Fprintf(w, ", rehearsal %s", n.Rehearsal)
		}
		fmt.Fprintln(w)
	}
	if len(p.Endpoints) > 0 {
		fmt.Fprintln(w, "\nEndpoints:")
		for _, e := range p.Endpoints {
			fmt.Fprintf(w, "  %-10s target %s, open connections %s on a switch (rehearsal)", e.Name, e.Target, e.Connections)
			if e.Switch != "" {
				fmt.Fprintf(w, ", switch command: %s", e.Switch)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w, "\nSteps:")
	writeTextSteps(w, p.Steps)
	if len(p.Rollback) > 0 {
		fmt.Fprintln(w, "\nRollback (runs when a step fails):")
		writeTextSteps(w, p.Rollback)
	} else {
		fmt.Fprintln(w, "\nNo rollback block: a failure stops the run where it is.")
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "\nWarning: %s\n", warn)
	}
}

func writeTextSteps(w io.Writer, steps []PlanStep) {
	for _, s := range steps {
		fmt.Fprintf(w, "  %d. %s %q  (%s, timeout %s, on failure: %s)\n", s.Number, s.Kind, s.Name, s.Source, s.Timeout, s.OnFailure)
		if s.Description != "" {
			fmt.Fprintf(w, "     %s\n", s.Description)
		}
		if s.When != "" {
			fmt.Fprintf(w, "     only when (live): %s\n", s.When)
		}
		for _, l := range s.Sends {
			fmt.Fprintf(w, "     - %s\n", l)
		}
		if s.Until != "" {
			fmt.Fprintf(w, "     until (live): %s\n", s.Until)
		}
		for _, a := range s.Asserts {
			fmt.Fprintf(w, "     assert (live): %s\n", a)
		}
		if s.PointOfNoReturn != "" {
			fmt.Fprintf(w, "     !! POINT OF NO RETURN: %s\n", s.PointOfNoReturn)
		}
	}
}

// WriteMarkdown writes the plan for a pull-request comment.
func (p *Plan) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "### understudy plan: `%s`\n\n", p.Runbook)
	if len(p.Variables) > 0 {
		fmt.Fprintln(w, "| variable | value |\n|---|---|")
		for _, v := range p.Variables {
			fmt.Fprintf(w, "| `%s` | `%s` |\n", v.Name, v.Value)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| node | address | auth | rehearsal |\n|---|---|---|---|")
	for _, n := range p.Nodes {
		fmt.Fprintf(w, "| `%s` | `%s` | %s | %s |\n", n.Name, n.Address, n.Auth, n.Rehearsal)
	}
	for _, e := range p.Endpoints {
		fmt.Fprintf(w, "\nEndpoint `%s` → `%s`, open connections: %s on a switch (rehearsal)", e.Name, e.Target, e.Connections)
		if e.Switch != "" {
			fmt.Fprintf(w, " (switch: `%s`)", e.Switch)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\n#### Steps")
	writeMarkdownSteps(w, p.Steps)
	if len(p.Rollback) > 0 {
		fmt.Fprintln(w, "\n#### Rollback")
		writeMarkdownSteps(w, p.Rollback)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "\n> **Warning:** %s\n", warn)
	}
}

func writeMarkdownSteps(w io.Writer, steps []PlanStep) {
	for _, s := range steps {
		fmt.Fprintf(w, "%d. **%s** `%s` — `%s`, timeout %s, on failure %s\n", s.Number, s.Kind, s.Name, s.Source, s.Timeout, s.OnFailure)
		if s.When != "" {
			fmt.Fprintf(w, "   - only when: `%s`\n", s.When)
		}
		for _, l := range s.Sends {
			fmt.Fprintf(w, "   - %s\n", l)
		}
		if s.Until != "" {
			fmt.Fprintf(w, "   - until: `%s`\n", s.Until)
		}
		for _, a := range s.Asserts {
			fmt.Fprintf(w, "   - assert: `%s`\n", a)
		}
		if s.PointOfNoReturn != "" {
			fmt.Fprintf(w, "   - :warning: **point of no return**: %s\n", s.PointOfNoReturn)
		}
	}
}

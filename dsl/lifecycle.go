package dsl

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// blockLifecycle is a node's lifecycle block.
const blockLifecycle = "lifecycle"

// nodeLifecycleSchema is the body of a node's lifecycle block.
var nodeLifecycleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: LifecycleUpgrade, Required: true},
		{Name: LifecycleStop},
		{Name: LifecycleStart},
		{Name: "timeout"},
	},
}

// The actions of a lifecycle block, each one command.
const (
	LifecycleUpgrade = "upgrade"
	LifecycleStop    = "stop"
	LifecycleStart   = "start"
)

// DefaultLifecycleTimeout bounds a lifecycle action unless the block's
// timeout says otherwise.
const DefaultLifecycleTimeout = 5 * time.Minute

// The placeholders a lifecycle command may hold; PlaceholderVersion only in
// the upgrade command.
const (
	PlaceholderNode    = "node"
	PlaceholderAddress = "address"
	PlaceholderHost    = "host"
	PlaceholderPort    = "port"
	PlaceholderVersion = "version"
)

// NodeLifecycle is the lifecycle block of a node: how the live backend
// (apply) upgrades, stops and starts a server that understudy did not
// start, since only the operator knows how it runs (systemctl and apt-get,
// docker, kubectl, ssh):
//
//	node "replica" {
//	  address = "10.0.0.12:6379"
//	  lifecycle {
//	    upgrade = ["./docker-node.sh", "upgrade", "redis-2", "{address}", "{version}"]
//	    stop    = ["ssh", "{host}", "sudo", "systemctl", "stop", "redis-server"]
//	    start   = ["ssh", "{host}", "sudo", "systemctl", "start", "redis-server"]
//	    timeout = "10m"
//	  }
//	}
//
// Each action is one command, a program and its arguments, run without a
// shell from the runbook's directory (a relative program path is relative
// to it), stdin closed, with understudy's environment plus REDISCLI_AUTH
// (the node's password) and UNDERSTUDY_USERNAME (its ACL user) when the
// node has them; its output is logged with the secrets redacted. The
// placeholders {node} (the node's name in the runbook), {address}, {host}
// and {port} (its address) and, in upgrade only, {version} (the target
// version as the step writes it: "8.0", "valkey:8.1") are replaced in every
// argument; {name} right after a "$" (a shell's ${name}) is left alone. Any
// other {name} is an error.
//
// The rule: upgrade is the whole replacement. It must stop the old server,
// install or start the new version with the same data and address, and
// return once it has done so (or at least once the new server is on its
// way); understudy then waits until the node answers PING with its
// credentials and reports the target version (engine and major.minor).
// stop and start are never run around it: they are the node's own actions,
// for steps that stop or start a server without changing its version. The
// timeout bounds each action, its command and the wait that follows
// together.
//
// A rehearsal ignores the block: it replaces its own containers.
type NodeLifecycle struct {
	// Upgrade is always set; Stop and Start are nil when not declared.
	Upgrade, Stop, Start *LifecycleCommand
	Timeout              time.Duration
	DeclRange            hcl.Range
}

// LifecycleCommand is one action of a lifecycle block.
type LifecycleCommand struct {
	// Action is LifecycleUpgrade, LifecycleStop or LifecycleStart.
	Action string
	// Args is the program and its arguments, placeholders unreplaced; nil
	// when the list is not known without secrets (an env() it reads is
	// unset while validating).
	Args []string
	// Sensitive is true when the list reads a sensitive variable: plans
	// show it as (sensitive).
	Sensitive bool
	// Expr is the list as written.
	Expr hcl.Expression
}

// placeholderRe finds {name} in an argument.
var placeholderRe = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)

// Command returns the action's command of the block, nil when the block
// does not declare it.
func (l *NodeLifecycle) Command(action string) *LifecycleCommand {
	if l == nil {
		return nil
	}
	switch action {
	case LifecycleUpgrade:
		return l.Upgrade
	case LifecycleStop:
		return l.Stop
	case LifecycleStart:
		return l.Start
	}
	return nil
}

// Expand returns the program and arguments for node n with every
// placeholder replaced; version is the upgrade's target, "" for stop and
// start. A placeholder whose value is not known (the address while an env()
// it reads is unset, {version} without a version) is kept as written.
func (c *LifecycleCommand) Expand(n *Node, version string) []string {
	values := map[string]string{PlaceholderNode: n.Name}
	if n.Address != "" {
		values[PlaceholderAddress] = n.Address
		if host, port, err := net.SplitHostPort(n.Address); err == nil {
			values[PlaceholderHost], values[PlaceholderPort] = host, port
		}
	}
	if version != "" && c.Action == LifecycleUpgrade {
		values[PlaceholderVersion] = version
	}
	out := make([]string, len(c.Args))
	for i, arg := range c.Args {
		out[i] = replacePlaceholders(arg, func(name string) (string, bool) {
			v, ok := values[name]
			return v, ok
		})
	}
	return out
}

// Text shows the command for node n in a plan, like ShowValue shows a list:
// ["./docker-node.sh", "upgrade", "redis-2", "10.0.0.12:6379", "8.0"].
// It is (sensitive) when the list reads a sensitive variable, and the list
// as written when it is not known while validating.
func (c *LifecycleCommand) Text(rb *Runbook, n *Node, version string) string {
	switch {
	case c.Sensitive:
		return "(sensitive)"
	case c.Args == nil:
		return rb.ExprText(c.Expr)
	}
	quoted := make([]string, 0, len(c.Args))
	for _, a := range c.Expand(n, version) {
		quoted = append(quoted, fmt.Sprintf("%q", a))
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// replacePlaceholders replaces each {name} of s for which value answers;
// {name} right after "$" is never a placeholder.
func replacePlaceholders(s string, value func(name string) (string, bool)) string {
	var b strings.Builder
	last := 0
	for _, m := range placeholderRe.FindAllStringIndex(s, -1) {
		if m[0] > 0 && s[m[0]-1] == '$' {
			continue
		}
		v, ok := value(s[m[0]+1 : m[1]-1])
		if !ok {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(v)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

func (r *Runbook) decodeNodeLifecycleBlock(node string, b *hcl.Block) (*NodeLifecycle, hcl.Diagnostics) {
	l := &NodeLifecycle{DeclRange: b.DefRange, Timeout: DefaultLifecycleTimeout}
	content, diags := b.Body.Content(nodeLifecycleSchema)
	for _, attr := range sortedAttributes(content.Attributes) {
		if attr.Name == "timeout" {
			d, dDiags := r.staticDuration(attr.Expr, fmt.Sprintf("The lifecycle timeout of node %q", node))
			diags = append(diags, dDiags...)
			if d > 0 {
				l.Timeout = d
			}
			continue
		}
		c, cDiags := r.decodeLifecycleCommand(node, attr)
		diags = append(diags, cDiags...)
		switch attr.Name {
		case LifecycleUpgrade:
			l.Upgrade = c
		case LifecycleStop:
			l.Stop = c
		case LifecycleStart:
			l.Start = c
		}
	}
	if l.Upgrade == nil {
		// Reported by the schema (a required argument).
		return nil, diags
	}
	return l, diags
}

// decodeLifecycleCommand reads one action's command: a static list of
// strings, not empty, whose placeholders are the action's.
func (r *Runbook) decodeLifecycleCommand(node string, attr *hcl.Attribute) (*LifecycleCommand, hcl.Diagnostics) {
	c := &LifecycleCommand{Action: attr.Name, Expr: attr.Expr, Sensitive: r.readsSensitive(attr.Expr)}
	what := fmt.Sprintf("The lifecycle %s command of node %q", attr.Name, node)
	v, diags := r.staticValue(attr.Expr, cty.List(cty.String), what)
	if diags.HasErrors() || !v.IsKnown() {
		return c, diags
	}
	if v.IsNull() || v.LengthInt() == 0 {
		return c, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty command",
			Detail:   fmt.Sprintf(`%s is empty: give the program and its arguments, e.g. ["systemctl", "restart", "redis-server"].`, what),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	n := v.LengthInt()
	args := make([]string, 0, n)
	known := true
	for it := v.ElementIterator(); it.Next(); {
		i, e := it.Element()
		idx, _ := i.AsBigFloat().Int64()
		rng := elemRange(attr.Expr, int(idx), n)
		switch {
		case !e.IsKnown():
			known = false
			continue
		case e.IsNull():
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Null element",
				Detail:   fmt.Sprintf("%s holds a null element.", what),
				Subject:  rng.Ptr(),
			})
			continue
		}
		s := e.AsString()
		if idx == 0 && strings.TrimSpace(s) == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Empty program",
				Detail:   fmt.Sprintf("%s starts with an empty program name.", what),
				Subject:  rng.Ptr(),
			})
		}
		diags = append(diags, checkPlaceholders(s, attr.Name, what, rng)...)
		args = append(args, s)
	}
	if known && !diags.HasErrors() {
		c.Args = args
	}
	return c, diags
}

// checkPlaceholders reports the {name}s of an argument that the action does
// not know.
func checkPlaceholders(arg, action, what string, rng hcl.Range) hcl.Diagnostics {
	allowed := []string{PlaceholderNode, PlaceholderAddress, PlaceholderHost, PlaceholderPort}
	if action == LifecycleUpgrade {
		allowed = append(allowed, PlaceholderVersion)
	}
	var diags hcl.Diagnostics
	replacePlaceholders(arg, func(name string) (string, bool) {
		switch {
		case slices.Contains(allowed, name):
		case name == PlaceholderVersion:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Placeholder not available",
				Detail: fmt.Sprintf("%s uses {version}, which only the upgrade command has (the target version of the upgrade step): "+
					"a %s runs the version the node already has, which understudy does not know live.", what, action),
				Subject: rng.Ptr(),
			})
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown placeholder",
				Detail: fmt.Sprintf("%s uses {%s}; the placeholders are {%s}.%s To pass braces to the program as they are, put the command in a script next to the runbook.",
					what, name, strings.Join(allowed, "}, {"), suggest(name, allowed)),
				Subject: rng.Ptr(),
			})
		}
		return "", false
	})
	return diags
}

package dsl

import (
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ArgType says how a step argument is resolved.
type ArgType int

const (
	// ArgNode is a reference to a node: replica = node.new.
	ArgNode ArgType = iota
	// ArgEndpoint is a reference to an endpoint: endpoint = endpoint.app.
	ArgEndpoint
	// ArgString, ArgNumber, ArgBool and ArgStringList are static values.
	ArgString
	ArgNumber
	ArgBool
	ArgStringList
	// ArgDuration is a static duration string: "30s".
	ArgDuration
	// ArgVersion is a static version: "8.0", "valkey:8.1".
	ArgVersion
	// ArgLive is an expression evaluated each time the step runs.
	ArgLive
)

// ArgSpec declares one argument of a step kind.
type ArgSpec struct {
	Name     string
	Type     ArgType
	Required bool
	// LiveType is the type an ArgLive expression must convert to.
	LiveType cty.Type
	// Enum lists the allowed values of an ArgString.
	Enum []string
	Doc  string
}

// KindSpec declares a step kind: its arguments and static checks. What the
// kind does at run time lives in package steps, whose registry must name the
// same kinds (a test checks it).
type KindSpec struct {
	Name string
	Doc  string
	Args []ArgSpec
	// DefaultTimeout replaces DefaultTimeout for this kind.
	DefaultTimeout time.Duration
	// NeedsUntil: the kind is pointless without an until condition.
	NeedsUntil bool
	// Check runs after decoding when there were no errors.
	Check func(r *Runbook, s *Step) hcl.Diagnostics
}

func (k *KindSpec) schema() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range k.Args {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	return s
}

// Kinds is the registry of step kinds, in the order the docs list them.
var Kinds = []*KindSpec{
	assertKind,
	waitKind,
	commandKind,
	replicateKind,
	promoteKind,
	switchoverKind,
	repointKind,
	upgradeKind,
	verifyKind,
	execKind,
}

// LookupKind returns the kind named name, or nil.
func LookupKind(name string) *KindSpec {
	for _, k := range Kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// KindNames lists the registered kinds, sorted.
func KindNames() []string {
	out := make([]string, 0, len(Kinds))
	for _, k := range Kinds {
		out = append(out, k.Name)
	}
	sort.Strings(out)
	return out
}

var assertKind = &KindSpec{
	Name: "assert",
	Doc:  "Checks a condition on live state once; fails the step with error_message when it is false.",
	Args: []ArgSpec{
		{Name: "condition", Type: ArgLive, LiveType: cty.Bool, Required: true, Doc: "The condition that must hold."},
		{Name: "error_message", Type: ArgLive, LiveType: cty.String, Doc: "The message when it does not."},
	},
}

var waitKind = &KindSpec{
	Name:           "wait",
	Doc:            "Waits, with back-off, until the until condition holds or the timeout passes.",
	DefaultTimeout: 10 * time.Minute,
	NeedsUntil:     true,
}

var commandKind = &KindSpec{
	Name: "command",
	Doc:  "Sends any command to a node; the reply is the step's output.",
	Args: []ArgSpec{
		{Name: "node", Type: ArgNode, Required: true, Doc: "The node that receives the command."},
		{Name: "command", Type: ArgLive, LiveType: cty.List(cty.String), Required: true, Doc: `The command and its arguments: ["CONFIG", "SET", "maxmemory", "1gb"].`},
	},
}

var replicateKind = &KindSpec{
	Name: "replicate",
	Doc:  "Makes a node a replica of another (REPLICAOF host port), after checking the versions can replicate.",
	Args: []ArgSpec{
		{Name: "replica", Type: ArgNode, Required: true, Doc: "The node that becomes a replica."},
		{Name: "master", Type: ArgNode, Required: true, Doc: "The node it follows."},
	},
	Check: checkTwoNodes("replica", "master"),
}

var promoteKind = &KindSpec{
	Name: "promote",
	Doc:  "Promotes a replica to master (REPLICAOF NO ONE).",
	Args: []ArgSpec{
		{Name: "node", Type: ArgNode, Required: true, Doc: "The replica to promote."},
	},
}

// Switchover methods.
const (
	SwitchAuto     = "auto"
	SwitchPause    = "pause"
	SwitchFailover = "failover"
)

// DefaultMaxPause bounds the write pause of a switchover (max_pause).
const DefaultMaxPause = 2 * time.Second

var switchoverKind = &KindSpec{
	Name: "switchover",
	Doc: "Moves the master role and the application from one node to another without losing acknowledged writes: " +
		"holds the endpoint, pauses writes on the old master, waits for the replica to reach the master's offset, promotes it, " +
		"repoints the endpoint, demotes the old master to a replica, lets the pause end.",
	DefaultTimeout: time.Minute,
	Args: []ArgSpec{
		{Name: "from", Type: ArgNode, Required: true, Doc: "The current master."},
		{Name: "to", Type: ArgNode, Required: true, Doc: "The replica that becomes master."},
		{Name: "endpoint", Type: ArgEndpoint, Doc: "The endpoint to repoint to the new master."},
		{Name: "method", Type: ArgString, Enum: []string{SwitchAuto, SwitchPause, SwitchFailover}, Doc: `"auto" (default: the pause sequence, CLIENT PAUSE WRITE on 6.2+, CLIENT PAUSE on 6.0), "pause", or "failover" (FAILOVER TO, 6.2+).`},
		{Name: "demote", Type: ArgBool, Doc: "Make the old master a replica of the new one (default true)."},
		{Name: "max_pause", Type: ArgDuration, Doc: `The longest the old master's writes may stay paused (default "2s"); the switchover aborts safely when the replica cannot catch up in that time.`},
	},
	Check: checkTwoNodes("from", "to"),
}

var repointKind = &KindSpec{
	Name: "repoint",
	Doc: "Points an endpoint at another node at once, without holding the application or checking replication: " +
		"what a DNS or load-balancer change alone does. Prefer switchover, which is lossless.",
	Args: []ArgSpec{
		{Name: "endpoint", Type: ArgEndpoint, Required: true, Doc: "The endpoint to repoint."},
		{Name: "to", Type: ArgNode, Required: true, Doc: "The node it points at afterwards."},
	},
}

var upgradeKind = &KindSpec{
	Name:           "upgrade",
	Doc:            "Replaces a node's server with another version, keeping its data and address (rehearsal: a new container; live: the node's lifecycle command).",
	DefaultTimeout: 5 * time.Minute,
	Args: []ArgSpec{
		{Name: "node", Type: ArgNode, Required: true, Doc: "The node to upgrade."},
		{Name: "version", Type: ArgVersion, Required: true, Doc: `The version to run: "8.0", "valkey:8.1".`},
	},
}

// Verify methods.
const (
	VerifyAuto   = "auto"
	VerifyDigest = "digest"
	VerifyScan   = "scan"
)

var verifyKind = &KindSpec{
	Name:           "verify",
	Doc:            "Compares two nodes' datasets: DEBUG DIGEST where the servers allow it, otherwise SCAN by type and value; reports the method and the first differing keys.",
	DefaultTimeout: 5 * time.Minute,
	Args: []ArgSpec{
		{Name: "a", Type: ArgNode, Required: true, Doc: "One node."},
		{Name: "b", Type: ArgNode, Required: true, Doc: "The other node."},
		{Name: "method", Type: ArgString, Enum: []string{VerifyAuto, VerifyDigest, VerifyScan}, Doc: `"auto" (default), "digest" or "scan".`},
		{Name: "exclude", Type: ArgStringList, Doc: `Key patterns to leave out, e.g. ["session:*"]. The rehearsal's write probe is always left out.`},
		{Name: "db", Type: ArgNumber, Doc: "The database to compare (default 0)."},
	},
	Check: checkTwoNodes("a", "b"),
}

var execKind = &KindSpec{
	Name:           "exec",
	Doc:            "Runs a local command (no shell); its standard output is the step's output. Fails on a non-zero exit.",
	DefaultTimeout: 5 * time.Minute,
	Args: []ArgSpec{
		{Name: "command", Type: ArgLive, LiveType: cty.List(cty.String), Required: true, Doc: `The program and its arguments: ["./switch-dns.sh", "app"].`},
	},
}

func checkTwoNodes(a, b string) func(*Runbook, *Step) hcl.Diagnostics {
	return func(r *Runbook, s *Step) hcl.Diagnostics {
		if s.NodeArg(a) != "" && s.NodeArg(a) == s.NodeArg(b) {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Same node twice",
				Detail:   "The arguments " + a + " and " + b + " of a " + s.Kind + " step must name two different nodes.",
				Subject:  s.Args[b].Range.Ptr(),
			}}
		}
		return nil
	}
}

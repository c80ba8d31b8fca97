package dsl

import (
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Step is one `step "<kind>" "<name>"` block.
type Step struct {
	Kind        string
	Name        string
	Description string
	// Timeout bounds the whole step, retries included.
	Timeout time.Duration
	// Until, when set, is re-evaluated after every attempt; the step repeats
	// with back-off until it is true or the timeout passes.
	Until hcl.Expression
	// When, when set, is evaluated once before the step: false skips it.
	// Rollback steps use it to undo only what happened
	// (when = step.promote.status == "passed").
	When    hcl.Expression
	Retry   Retry
	Asserts []*Assert
	// OnFailure is what a failure of this step does: "rollback" (default),
	// "abort" (stop without rollback) or "continue".
	OnFailure string
	// Args are the kind's own arguments, by name.
	Args map[string]*Arg
	// InRollback is true for the steps of the rollback block.
	InRollback bool

	// PointOfNoReturn, when set, says why the old version cannot take the
	// data back after this step (from the rehearsal versions).
	PointOfNoReturn string

	// Group is the group the step repeats in, nil for a step of its own.
	Group *Group
	// Each is the iteration of a bound step (Bind) of a group; Origin the
	// declared step a bound step was made from. Both nil for a declared
	// step.
	Each   *Iteration
	Origin *Step

	// Impl is the step's kind, from the KindSet the runbook was loaded with.
	Impl      Kind
	rb        *Runbook
	DeclRange hcl.Range
	// KindRange and NameRange are the ranges of the two labels.
	KindRange hcl.Range
	NameRange hcl.Range
}

// Retry is the retry block of a step.
type Retry struct {
	// Attempts bounds the attempts; 0 means "until the timeout" for steps
	// with until, otherwise 1.
	Attempts    int
	Interval    time.Duration
	MaxInterval time.Duration
}

// Assert is an assert block: a condition checked after the step's action.
type Assert struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression // may be nil
	// Severity is SeverityError (default) or SeverityWarning.
	Severity  string
	DeclRange hcl.Range
}

// Arg is one argument of a step kind, resolved as far as possible without a
// server.
type Arg struct {
	Name  string
	Spec  ArgSpec
	Expr  hcl.Expression
	Range hcl.Range
	// Ref is the node, endpoint or deployment name for ArgNode,
	// ArgEndpoint and ArgDeployment.
	Ref string
	// Refs are the node names of an ArgNodeList, in order.
	Refs []string
	// Value is the static value (ArgString, ArgNumber, ArgBool,
	// ArgStringList, ArgDuration, ArgVersion); for ArgLive it is the value
	// known without a server, possibly unknown.
	Value    cty.Value
	Duration time.Duration
	Version  redis.Version
}

// Defaults of the common settings.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultInterval    = 200 * time.Millisecond
	DefaultMaxInterval = 5 * time.Second
)

var onFailureValues = []string{"rollback", "abort", "continue"}

// Severities of an assert: an error fails the step; a warning is reported in
// every output and fails nothing.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

var severities = []string{SeverityError, SeverityWarning}

func (r *Runbook) decodeStepBlock(b *hcl.Block, before map[string]*Step, inRollback bool) (*Step, hcl.Diagnostics) {
	s := &Step{
		Kind: b.Labels[0], Name: b.Labels[1], DeclRange: b.DefRange,
		KindRange: b.LabelRanges[0], NameRange: b.LabelRanges[1],
		OnFailure: "rollback", InRollback: inRollback, Args: map[string]*Arg{}, rb: r,
		Retry: Retry{Interval: DefaultInterval, MaxInterval: DefaultMaxInterval},
	}
	var diags hcl.Diagnostics
	kind := r.kinds.Lookup(s.Kind)
	if kind == nil {
		names := r.kinds.Names()
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown step kind",
			Detail:   fmt.Sprintf("There is no step kind %q. The kinds are: %s.%s", s.Kind, strings.Join(names, ", "), suggest(s.Kind, names)),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	s.Impl = kind
	spec := kind.Spec()
	if !hclsyntax.ValidIdentifier(s.Name) {
		return nil, append(diags, invalidName("step", s.Name, b.LabelRanges[1]))
	}
	if prev := r.findStep(s.Name); prev != nil {
		return nil, append(diags, duplicate("step", s.Name, b.LabelRanges[1], prev.NameRange))
	}
	s.Timeout = spec.DefaultTimeout
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}

	// Settings common to every kind first, then the kind's own arguments
	// from what remains.
	common, remain, cDiags := b.Body.PartialContent(stepCommonSchema)
	diags = append(diags, cDiags...)
	// until and assert run after the action: they may read the step's own
	// output.
	withSelf := map[string]*Step{s.Name: s}
	for k, v := range before {
		withSelf[k] = v
	}
	diags = append(diags, r.decodeStepCommon(s, common, withSelf)...)

	kindContent, kDiags := remain.Content(spec.schema())
	diags = append(diags, kDiags...)
	for _, attr := range sortedAttributes(kindContent.Attributes) {
		i := slices.IndexFunc(spec.Args, func(a ArgSpec) bool { return a.Name == attr.Name })
		a, aDiags := r.decodeArg(spec.Args[i], attr, before)
		diags = append(diags, aDiags...)
		if a != nil {
			s.Args[attr.Name] = a
		}
	}
	if spec.NeedsUntil && s.Until == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing until condition",
			Detail:   fmt.Sprintf("A %s step waits for a condition: set until = <condition>, for example until = in_sync(node.new, node.old).", s.Kind),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return s, diags
}

func (r *Runbook) findStep(name string) *Step {
	for _, s := range r.AllSteps() {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (r *Runbook) decodeStepCommon(s *Step, content *hcl.BodyContent, before map[string]*Step) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, attr := range sortedAttributes(content.Attributes) {
		switch attr.Name {
		case "description":
			d, dDiags := r.staticString(attr.Expr, "The description of a step")
			diags = append(diags, dDiags...)
			s.Description = d
		case "timeout":
			d, dDiags := r.staticDuration(attr.Expr, "The timeout of a step")
			diags = append(diags, dDiags...)
			if d > 0 {
				s.Timeout = d
			}
		case "on_failure":
			v, vDiags := r.staticEnum(attr.Expr, "on_failure", onFailureValues)
			diags = append(diags, vDiags...)
			if !vDiags.HasErrors() && v != "" {
				s.OnFailure = v
			}
		case "when":
			// Evaluated before the step runs: its own output is not known yet.
			others := maps.Clone(before)
			delete(others, s.Name)
			diags = append(diags, r.checkLive(attr.Expr, cty.Bool, others, "The when condition")...)
			s.When = attr.Expr
		case "until":
			diags = append(diags, r.checkLive(attr.Expr, cty.Bool, before, "The until condition")...)
			s.Until = attr.Expr
		}
	}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "retry":
			diags = append(diags, r.decodeRetryBlock(s, blk)...)
		case "assert":
			a, aDiags := r.decodeAssertBlock(blk, before)
			diags = append(diags, aDiags...)
			if a != nil {
				s.Asserts = append(s.Asserts, a)
			}
		}
	}
	return diags
}

// decodeAssertBlock decodes an assert block of a step.
func (r *Runbook) decodeAssertBlock(blk *hcl.Block, before map[string]*Step) (*Assert, hcl.Diagnostics) {
	bc, diags := blk.Body.Content(assertSchema)
	a := &Assert{DeclRange: blk.DefRange, Severity: SeverityError}
	for _, attr := range sortedAttributes(bc.Attributes) {
		switch attr.Name {
		case "condition":
			diags = append(diags, r.checkLive(attr.Expr, cty.Bool, before, "An assert condition")...)
			a.Condition = attr.Expr
		case "error_message":
			diags = append(diags, r.checkLive(attr.Expr, cty.String, before, "An error_message")...)
			a.ErrorMessage = attr.Expr
		case "severity":
			v, vDiags := r.staticEnum(attr.Expr, "severity", severities)
			diags = append(diags, vDiags...)
			if v != "" {
				a.Severity = v
			}
		}
	}
	if a.Condition == nil {
		return nil, diags
	}
	return a, diags
}

// staticEnum reads a static string that must be one of values; "" when it
// is not known or not valid (reported).
func (r *Runbook) staticEnum(expr hcl.Expression, what string, values []string) (string, hcl.Diagnostics) {
	val, diags := r.staticValue(expr, cty.String, what)
	if diags.HasErrors() || !val.IsKnown() || val.IsNull() {
		return "", diags
	}
	v := val.AsString()
	if !slices.Contains(values, v) {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what,
			Detail:   fmt.Sprintf("%s must be one of %s, not %q.", what, strings.Join(values, ", "), v),
			Subject:  expr.Range().Ptr(),
		})
	}
	return v, diags
}

func (r *Runbook) decodeRetryBlock(s *Step, blk *hcl.Block) hcl.Diagnostics {
	bc, diags := blk.Body.Content(retrySchema)
	if attr, ok := bc.Attributes["attempts"]; ok {
		v, vDiags := r.staticValue(attr.Expr, cty.Number, "retry.attempts")
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() && v.IsKnown() && !v.IsNull() {
			if err := gocty.FromCtyValue(v, &s.Retry.Attempts); err != nil || s.Retry.Attempts < 1 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid retry attempts",
					Detail:   "retry.attempts must be a whole number of at least 1.",
					Subject:  attr.Expr.Range().Ptr(),
				})
			}
		}
	}
	for _, name := range []string{"interval", "max_interval"} {
		dst := map[string]*time.Duration{"interval": &s.Retry.Interval, "max_interval": &s.Retry.MaxInterval}[name]
		if attr, ok := bc.Attributes[name]; ok {
			d, dDiags := r.staticDuration(attr.Expr, "retry."+name)
			diags = append(diags, dDiags...)
			if d > 0 {
				*dst = d
			}
		}
	}
	if s.Retry.MaxInterval < s.Retry.Interval {
		s.Retry.MaxInterval = s.Retry.Interval
	}
	return diags
}

// staticDuration reads "30s", "10m", "1h30m" (Go duration syntax).
func (r *Runbook) staticDuration(expr hcl.Expression, what string) (time.Duration, hcl.Diagnostics) {
	s, diags := r.staticString(expr, what)
	if diags.HasErrors() || s == "" {
		return 0, diags
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   fmt.Sprintf("%s must be a positive duration such as \"30s\", \"10m\" or \"1h30m\", not %q.", what, s),
			Subject:  expr.Range().Ptr(),
		})
	}
	return d, diags
}

// checkLive checks a live expression's references and evaluates it with
// unknown live state to find type errors before any server is touched.
func (r *Runbook) checkLive(expr hcl.Expression, want cty.Type, before map[string]*Step, what string) hcl.Diagnostics {
	diags := r.checkLiveRefs(expr, before)
	if diags.HasErrors() {
		return diags
	}
	ectx := r.EvalContext(EvalState{Steps: unknownSteps(before)})
	v, vDiags := expr.Value(ectx)
	diags = append(diags, vDiags...)
	if vDiags.HasErrors() {
		return diags
	}
	// HCL converts an unknown string to an unknown number without
	// complaint: node.old.role + 1 would only fail at run time.
	if tDiags := checkOperandTypes(expr, ectx); tDiags.HasErrors() {
		return append(diags, tDiags...)
	}
	if want == cty.DynamicPseudoType {
		return diags
	}
	if _, err := convert.Convert(v, want); err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect value type",
			Detail:   fmt.Sprintf("%s must be %s: %s.", what, want.FriendlyName(), err),
			Subject:  expr.Range().Ptr(),
		})
	}
	return diags
}

func (r *Runbook) decodeArg(as ArgSpec, attr *hcl.Attribute, before map[string]*Step) (*Arg, hcl.Diagnostics) {
	a := &Arg{Name: as.Name, Spec: as, Expr: attr.Expr, Range: attr.Expr.Range()}
	what := fmt.Sprintf("The argument %q", as.Name)
	var diags hcl.Diagnostics
	switch as.Type {
	case ArgNode:
		a.Ref, diags = r.nodeRef(attr.Expr, what)
	case ArgEndpoint:
		a.Ref, diags = r.endpointRef(attr.Expr, what)
	case ArgNodeList:
		a.Refs, diags = r.nodeListRef(attr.Expr, what)
	case ArgDeployment:
		a.Ref, diags = r.blockRef(attr.Expr, blockSentinel, what, mapKeys(r.Sentinels))
	case ArgString:
		a.Value, diags = r.staticValue(attr.Expr, cty.String, what)
		if !diags.HasErrors() && len(as.Enum) > 0 && a.Value.IsKnown() && !slices.Contains(as.Enum, a.Value.AsString()) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid %s", as.Name),
				Detail:   fmt.Sprintf("%s must be one of %s, not %q.", what, strings.Join(as.Enum, ", "), a.Value.AsString()),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
	case ArgVersion:
		var ok bool
		a.Version, ok, diags = r.staticVersion(attr.Expr, what)
		if ok {
			a.Value = cty.StringVal(a.Version.String())
		}
	case ArgNumber:
		a.Value, diags = r.staticValue(attr.Expr, cty.Number, what)
	case ArgBool:
		a.Value, diags = r.staticValue(attr.Expr, cty.Bool, what)
	case ArgStringList:
		a.Value, diags = r.staticValue(attr.Expr, cty.List(cty.String), what)
	case ArgDuration:
		a.Duration, diags = r.staticDuration(attr.Expr, what)
		a.Value = cty.StringVal(a.Duration.String())
	case ArgLive:
		want := as.LiveType
		if want == cty.NilType {
			want = cty.DynamicPseudoType
		}
		if want.Equals(EnvType) {
			diags = checkEnvNames(attr.Expr)
		}
		diags = append(diags, r.checkLive(attr.Expr, want, before, what)...)
		if !diags.HasErrors() {
			v, _ := attr.Expr.Value(r.EvalContext(EvalState{Steps: unknownSteps(before)}))
			a.Value = v
		}
	}
	return a, diags
}

// NodeArg returns the node name of a node argument, "" when not set.
func (s *Step) NodeArg(name string) string {
	if a, ok := s.Args[name]; ok {
		return a.Ref
	}
	return ""
}

// DeploymentArg returns the Sentinel deployment a deployment argument
// names, nil when not set.
func (s *Step) DeploymentArg(name string) *SentinelDeployment {
	if a, ok := s.Args[name]; ok {
		return s.rb.Sentinels[a.Ref]
	}
	return nil
}

// NodeListArg returns the node names of a node list argument, nil when not
// set.
func (s *Step) NodeListArg(name string) []string {
	if a, ok := s.Args[name]; ok {
		return a.Refs
	}
	return nil
}

// StringArg returns a static string argument or def when it is not set.
func (s *Step) StringArg(name, def string) string {
	if a, ok := s.Args[name]; ok && a.Value.IsKnown() && !a.Value.IsNull() && a.Value.Type() == cty.String {
		return a.Value.AsString()
	}
	return def
}

// BoolArg returns a static bool argument or def.
func (s *Step) BoolArg(name string, def bool) bool {
	if a, ok := s.Args[name]; ok && a.Value.IsKnown() && !a.Value.IsNull() && a.Value.Type() == cty.Bool {
		return a.Value.True()
	}
	return def
}

// DurationArg returns a duration argument or def.
func (s *Step) DurationArg(name string, def time.Duration) time.Duration {
	if a, ok := s.Args[name]; ok && a.Duration > 0 {
		return a.Duration
	}
	return def
}

// StringListArg returns a static list argument.
func (s *Step) StringListArg(name string) []string {
	a, ok := s.Args[name]
	if !ok || !a.Value.IsWhollyKnown() || a.Value.IsNull() || !a.Value.CanIterateElements() {
		return nil
	}
	var out []string
	for it := a.Value.ElementIterator(); it.Next(); {
		_, v := it.Element()
		out = append(out, v.AsString())
	}
	return out
}

// Runbook is the runbook the step belongs to.
func (s *Step) Runbook() *Runbook { return s.rb }

// Ref is "kind.name" as written in the runbook, for messages.
func (s *Step) Ref() string { return fmt.Sprintf("%s %q", s.Kind, s.Name) }

// unknownSteps is step.NAME for the steps that run before, before any ran.
func unknownSteps(before map[string]*Step) map[string]cty.Value {
	out := make(map[string]cty.Value, len(before))
	for name := range before {
		out[name] = cty.UnknownVal(stepType)
	}
	return out
}

package kinds

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// CopyUsers copies ACL users from one node to another: replication carries
// data and function libraries, never ACL users, so a node that replaces
// another lacks them unless its configuration or this step gives them.
type CopyUsers struct{}

var copyUsersSpec = &dsl.KindSpec{
	Name: "copy_users",
	Doc: "Copies the ACL users (all but default, which each node's own configuration sets) from one node to another " +
		"with ACL SETUSER; replication does not carry them. Rules for commands the target does not have are left out and logged; " +
		"users of a Redis 6.0 source keep every pub/sub channel (allchannels).",
	Args: []dsl.ArgSpec{
		{Name: "from", Type: dsl.ArgNode, Required: true, Doc: "The node whose users are copied."},
		{Name: "to", Type: dsl.ArgNode, Required: true, Doc: "The node that receives them; a user of the same name is replaced."},
	},
}

func (CopyUsers) Spec() *dsl.KindSpec { return copyUsersSpec }

func (CopyUsers) Check(s *dsl.Step, _ *redis.Sim) hcl.Diagnostics {
	return dsl.CheckTwoNodes(s, "from", "to")
}

func (CopyUsers) Describe(s *dsl.Step, sim *redis.Sim) []string {
	out := []string{fmt.Sprintf("ACL LIST on %s, then MULTI/ACL DELUSER <user>/ACL SETUSER <user> <rules>/EXEC on %s for every user but default (rules carry password hashes: not shown); rules for commands %s does not have are left out",
		nodeText(s, "from", sim), nodeText(s, "to", sim), "node."+s.NodeArg("to"))}
	if v, ok := sim.Version(s.NodeArg("from")); ok && !v.AtLeast(6, 2) {
		out = append(out, fmt.Sprintf("%s has no channel permissions: each user gets allchannels, as it had every channel there", v))
	}
	return out
}

func (CopyUsers) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	from, fc, err := x.NodeArg("from")
	if err != nil {
		return cty.NilVal, err
	}
	to, tc, err := x.NodeArg("to")
	if err != nil {
		return cty.NilVal, err
	}
	users, err := redis.ACLUsers(ctx, fc)
	if err != nil {
		return cty.NilVal, fmt.Errorf("users of %q: %w", from.Name(), err)
	}
	unknown, err := redis.UnknownCommands(ctx, tc, users)
	if err != nil {
		return cty.NilVal, fmt.Errorf("commands of %q: %w", to.Name(), err)
	}
	names := make([]cty.Value, 0, len(users))
	var shown, dropped []string
	for _, u := range users {
		var d []string
		u.Rules, d = redis.DropCommandRules(u.Rules, unknown)
		for _, r := range d {
			dropped = append(dropped, u.Name+" "+r)
		}
		if !redis.HasChannelRules(u.Rules) {
			// A 6.0 user may use every channel; 7.0 would give it none.
			u.Rules = append(u.Rules, "allchannels")
		}
		if err := redis.SetACLUser(ctx, tc, to.Name(), u); err != nil {
			return cty.NilVal, err
		}
		names = append(names, cty.StringVal(u.Name))
		shown = append(shown, u.Name)
	}
	x.Log("copied %d ACL user(s) from %s to %s: %s", len(users), from.Name(), to.Name(), strings.Join(shown, ", "))
	if len(dropped) > 0 {
		// 6.0 lists its pseudo-commands (post, host:) in @read; 7.0+
		// refuses rules for commands it does not have.
		x.Log("left out rules for commands %s does not have: %s", to.Name(), strings.Join(dropped, ", "))
	}
	list := cty.ListValEmpty(cty.String)
	if len(names) > 0 {
		list = cty.ListVal(names)
	}
	return cty.ObjectVal(map[string]cty.Value{"users": list}), nil
}

// Resume: run again. Each user is replaced whole (ACL DELUSER and ACL
// SETUSER in one MULTI), so copying again gives the same users.
func (CopyUsers) Resume(context.Context, *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	return steps.ResumeRun, cty.NilVal, nil
}

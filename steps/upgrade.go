package steps

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// runUpgrade replaces a node's server with another version through the
// backend, keeping its data and address, and checks the version it then
// reports.
func runUpgrade(ctx context.Context, x *Exec) (cty.Value, error) {
	node, c, err := x.NodeArg("node")
	if err != nil {
		return cty.NilVal, err
	}
	to := x.Step.Args["version"].Version
	info, err := ReadInfo(ctx, c, "server")
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on %q before the upgrade: %w", node, err)
	}
	from, err := nodeVersion(info)
	if err != nil {
		return cty.NilVal, err
	}
	if err := x.Backend().Upgrade(ctx, node, to); err != nil {
		return cty.NilVal, fmt.Errorf("upgrade %q %s→%s: %w", node, from, to, err)
	}
	info, err = ReadInfo(ctx, c, "server")
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on %q after the upgrade: %w", node, err)
	}
	now, err := nodeVersion(info)
	if err != nil {
		return cty.NilVal, err
	}
	if now.Engine != to.Engine || now.Series().Compare(to.Series()) != 0 {
		return cty.NilVal, Permanent(errorAt(x.Step.Args["version"].Range, "Wrong version after upgrade", "Node %q reports %s after the upgrade, the step asked for %s.", node, now, to))
	}
	x.Log("%s upgraded %s → %s", node, from, now)
	return cty.ObjectVal(map[string]cty.Value{
		"from": cty.StringVal(from.String()),
		"to":   cty.StringVal(now.String()),
	}), nil
}

package kinds

import "github.com/understudy/understudy/steps"

// Registry is the only list of step kinds: adding a kind is its own file and
// one line here. It is checked when the program starts (steps.NewRegistry):
// a kind missing a part cannot be registered.
var Registry = steps.MustRegistry(
	Assert{},
	Wait{},
	Command{},
	Replicate{},
	Promote{},
	Switchover{},
	SentinelSwitchover{},
	SentinelCheck{},
	ClusterFailover{},
	ClusterCheck{},
	Repoint{},
	Upgrade{},
	Verify{},
	CopyUsers{},
	Exec{},
)

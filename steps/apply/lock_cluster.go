package apply

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/understudy/understudy/steps/redis"
)

// ClusterLockKey is the key that holds the apply lock on the master of a
// Redis Cluster that serves slot: LockKey, a colon and a hash tag that
// hashes to slot, "understudy:lock:{SLOT.N}" with the smallest N that
// does. A master serving that slot accepts it (any other answers MOVED);
// its replicas hold its copy, and keep it when one of them takes the
// shard over.
func ClusterLockKey(slot int) string {
	if k, ok := clusterLockKeys.Load(slot); ok {
		return k.(string)
	}
	prefix := strconv.Itoa(slot) + "."
	for i := 0; ; i++ {
		key := LockKey + ":{" + prefix + strconv.Itoa(i) + "}"
		if redis.KeySlot(key) == slot {
			clusterLockKeys.Store(slot, key)
			return key
		}
	}
}

// clusterLockKeys memoizes ClusterLockKey: about 16 000 CRCs per slot.
var clusterLockKeys sync.Map // slot → key

// clusterKeyOf is where a cluster node's lock lives: the ClusterLockKey of
// the lowest slot its shard's master serves, as its own CLUSTER NODES
// says (for a replica, its master's); "" when that master serves none.
func clusterKeyOf(ctx context.Context, n Node) (string, error) {
	view, err := redis.ReadClusterNodes(ctx, n.Client)
	if err != nil {
		return "", fmt.Errorf("node %q: %w", n.Name, err)
	}
	self, ok := redis.ClusterMyself(view)
	if !ok {
		return "", fmt.Errorf("node %q: CLUSTER NODES has no line for the node itself", n.Name)
	}
	master := self
	if !self.IsMaster() {
		if master, ok = redis.ClusterNodeByID(view, self.MasterID); !ok {
			// A replica whose master its view does not know: no copy to
			// read.
			return "", nil
		}
	}
	lowest := -1
	for _, r := range master.Slots {
		if lowest < 0 || r.From < lowest {
			lowest = r.From
		}
	}
	if lowest < 0 {
		return "", nil
	}
	return ClusterLockKey(lowest), nil
}

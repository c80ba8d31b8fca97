package traffic

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ClusterTarget is a Redis Cluster, reached as its applications reach it:
// through go-redis's cluster client, seeded with some of its nodes.
type ClusterTarget struct {
	// Addrs are nodes of the cluster, host:port; the client discovers
	// the others from them.
	Addrs []string
	// Username and Password authenticate to every node of the cluster.
	// When both are empty, Options.Username and Options.Password do.
	Username, Password string
}

// checkCluster checks the options of a writer to a cluster. The writer's
// keys are the prefix and a number, so that they hash to slots spread over
// every master; a prefix holding a hash tag ({...}) would send them all to
// one slot.
func (o Options) checkCluster() error {
	switch {
	case o.Sentinel != nil:
		return errors.New("traffic: both Sentinel and Cluster are set")
	case len(o.Cluster.Addrs) == 0:
		return errors.New("traffic: a cluster without node addresses")
	case o.DB != 0:
		return fmt.Errorf("traffic: database %d: a cluster has only database 0", o.DB)
	}
	if tag, ok := hashTag(o.Prefix); ok {
		return fmt.Errorf("traffic: the key prefix %q holds the hash tag {%s}: every key would hash to one slot", o.Prefix, tag)
	}
	return nil
}

// hashTag returns the hash tag of the keys that start with prefix and go
// on with digits: the text between the first '{' and the first '}' after
// it, when it is not empty (the cluster's rule for which part of a key is
// hashed).
func hashTag(prefix string) (string, bool) {
	_, rest, ok := strings.Cut(prefix, "{")
	if !ok {
		return "", false
	}
	tag, _, ok := strings.Cut(rest, "}")
	return tag, ok && tag != ""
}

// clusterOptions are the options of the writer's cluster client and of
// VerifyCluster's: go-redis's defaults but for the target, credentials,
// TLS and pool size (per node).
func (o Options) clusterOptions(pool int) *redis.ClusterOptions {
	user, pass := o.Cluster.Username, o.Cluster.Password
	if user == "" && pass == "" {
		user, pass = o.Username, o.Password
	}
	return &redis.ClusterOptions{Addrs: o.Cluster.Addrs, Username: user, Password: pass, TLSConfig: o.TLSConfig, PoolSize: pool}
}

// newClusterClient is newClient for a cluster.
func newClusterClient(o Options, pool int) (_ redis.UniversalClient, target string) {
	return redis.NewClusterClient(o.clusterOptions(pool)), "cluster " + strings.Join(o.Cluster.Addrs, ", ")
}

// VerifyCluster is Verify for a writer to a cluster (Options.Cluster): it
// reads every acknowledged write back through a new cluster client, which
// asks the cluster for its current slots, so each key is read from the
// master of its slot at the end. Lost writes are counted as Verify counts
// them. Call it after Stop, with Stop's report; it can be called again.
func (w *Writer) VerifyCluster(ctx context.Context, r *Report) error {
	if w.opts.Cluster == nil {
		return errors.New("traffic: verify cluster: the writer does not write to a cluster; use Verify")
	}
	c := redis.NewClusterClient(w.opts.clusterOptions(0))
	defer c.Close()
	return w.verify(r, "verify cluster", func(keys []string) ([]any, error) {
		// One GET per key: the keys are on every master, and MGET needs
		// its keys in one slot. The pipeline sends each node its keys.
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		vals := make([]any, len(cmds))
		for i, cmd := range cmds {
			v, err := cmd.(*redis.StringCmd).Result()
			switch {
			case err == nil:
				vals[i] = v
			case !errors.Is(err, redis.Nil):
				return nil, fmt.Errorf("%s: %w", keys[i], err)
			}
		}
		return vals, nil
	})
}

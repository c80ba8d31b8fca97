package topology

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/understudy/understudy/steps/redis"
)

// SentinelQueryTimeout bounds one question to one sentinel, so that an
// unreachable sentinel does not hold up the others' answers.
const SentinelQueryTimeout = 3 * time.Second

// SentinelAnswers is what the sentinels of a deployment said, at one
// moment, about the address of the master they monitor.
type SentinelAnswers struct {
	MasterName string
	// Said maps each sentinel that answered (by node name) to the
	// address it named.
	Said map[string]string
	// Order is the sentinels' order, for messages.
	Order []string
	// Failed are the questions that failed, naming the sentinel and why.
	Failed []string
}

// AskSentinels asks each sentinel of t named in sentinels for the address
// of the master called masterName, each within SentinelQueryTimeout.
func AskSentinels(ctx context.Context, t Topology, sentinels []string, masterName string) SentinelAnswers {
	a := SentinelAnswers{MasterName: masterName, Said: map[string]string{}, Order: sentinels}
	for _, name := range sentinels {
		n, err := t.Node(name)
		if err != nil {
			a.Failed = append(a.Failed, fmt.Sprintf("sentinel %q: %v", name, err))
			continue
		}
		c, err := n.Client()
		if err == nil {
			qctx, cancel := context.WithTimeout(ctx, SentinelQueryTimeout)
			var addr string
			addr, err = redis.SentinelMasterAddr(qctx, c, masterName)
			cancel()
			if err == nil {
				a.Said[name] = addr
				continue
			}
		}
		a.Failed = append(a.Failed, fmt.Sprintf("sentinel %q (%s): %v", name, n.Address(), err))
	}
	return a
}

// WaitSentinelsAgree asks the sentinels every poll until every one of
// them answers with the same address, or until within has passed (or ctx
// ends); it returns the last answers, which may still disagree.
func WaitSentinelsAgree(ctx context.Context, t Topology, sentinels []string, masterName string, within, poll time.Duration) SentinelAnswers {
	deadline := time.Now().Add(within)
	for {
		a := AskSentinels(ctx, t, sentinels, masterName)
		if a.Agreed() || !time.Now().Before(deadline) || ctx.Err() != nil {
			return a
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// Agreed reports whether every sentinel answered with one address.
func (a SentinelAnswers) Agreed() bool {
	return len(a.Failed) == 0 && len(a.addrs()) == 1
}

// addrs are the distinct addresses named, sorted.
func (a SentinelAnswers) addrs() []string {
	var out []string
	for _, addr := range a.Said {
		out = append(out, addr)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Master is the data node (one of dataNodes) at the address the sentinels
// that answered agree on. Sentinels that did not answer are passed over
// (see Failed); none answering, answers that disagree (a failover under
// way) and an address that is none of the data nodes are errors.
func (a SentinelAnswers) Master(t Topology, dataNodes []string) (Node, error) {
	addrs := a.addrs()
	switch len(addrs) {
	case 0:
		return nil, fmt.Errorf("no sentinel named the master %q: %s", a.MasterName, strings.Join(a.Failed, "; "))
	case 1:
	default:
		var each []string
		for _, s := range a.Order {
			addr, ok := a.Said[s]
			if !ok {
				continue
			}
			node := "none of the data nodes"
			if n, ok := NodeByAddress(t, dataNodes, addr); ok {
				node = "node " + n.Name()
			}
			each = append(each, fmt.Sprintf("%s names %s (%s)", s, addr, node))
		}
		return nil, fmt.Errorf("the sentinels disagree on the master %q (a failover under way?): %s", a.MasterName, strings.Join(each, ", "))
	}
	n, ok := NodeByAddress(t, dataNodes, addrs[0])
	if !ok {
		return nil, fmt.Errorf("the sentinels name %s as the master %q, which is none of the data nodes (%s)", addrs[0], a.MasterName, strings.Join(dataNodes, ", "))
	}
	return n, nil
}

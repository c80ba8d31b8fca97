package kinds

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// fenceLog is what the 6.0 sequence says before it sets
// min-replicas-to-write 1 on the old master (it was 0). The journal keeps
// it, so a resumed run knows the setting is the switchover's and puts it
// back; a setting the operator made is left alone.
const fenceLog = "fence: min-replicas-to-write 1 on %s until the switch ends (it was 0)"

// seqResumed is the method in the output of a switchover that a resumed
// run found done, or finished.
const seqResumed = "resumed"

// resume judges, from both nodes' roles, a switchover that was in flight
// when the run stopped. The sequence may have died before anything
// changed (a CLIENT PAUSE it sent ends by itself), after promoting the new
// master but before demoting the old one, or after the demotion:
//
//   - old master, new its replica: nothing was switched; run it again
//     (after restoring the fence, if the journal says it was set).
//   - new master, old its replica: it went through; done, after
//     re-pointing the endpoint (a live endpoint does not know where its
//     switch command last pointed it, so the command runs again: it points
//     at the same node) and the other replicas, and restoring the fence.
//   - both masters, the old one with no write past the point where the new
//     one was promoted: finish it (endpoint, demotion, other replicas,
//     fence); done.
//   - both masters and the old one took writes after the promotion (or
//     expired keys: it cannot tell them apart), or anything else: refused,
//     saying what was found. Demoting it would discard those writes.
func (s *switchover) resume(ctx context.Context) (steps.ResumeDecision, cty.Value, error) {
	// On 6.0 a pause the stopped run sent blocks the old master's clients,
	// ours included, until it ends.
	s.fc = s.fc.WithTimeout(s.maxPause + 10*time.Second)
	fi, ti, err := s.readBoth(ctx)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	fromFollows := fi["role"] == "slave" && redis.SameAddr(masterAddr(fi), s.toAddr)
	toFollows := ti["role"] == "slave" && redis.SameAddr(masterAddr(ti), s.fromAddr)
	switch {
	case fi["role"] == "master" && toFollows:
		s.x.Log("found %s master and %s its replica: nothing was switched yet", s.from, s.to)
		if err := s.unfence(ctx); err != nil {
			return steps.ResumeRefuse, cty.NilVal, err
		}
		return steps.ResumeRun, cty.NilVal, nil
	case ti["role"] == "master" && fromFollows:
		s.x.Log("found %s master and %s its replica: the switchover went through", s.to, s.from)
		s.offset = max(redis.Int(ti, "second_repl_offset")-1, 0)
		n, err := s.finish(ctx, fi, false)
		if err != nil {
			return steps.ResumeRefuse, cty.NilVal, err
		}
		return steps.ResumeDone, s.output(seqResumed, n), nil
	case ti["role"] == "master" && fi["role"] == "master":
		if err := s.noWritesSincePromotion(fi, ti); err != nil {
			return steps.ResumeRefuse, cty.NilVal, err
		}
		s.x.Log("found both masters, %s promoted at offset %d and %s with no write since: finishing the switchover", s.to, s.offset, s.from)
		n, err := s.finish(ctx, fi, s.demote)
		if err != nil {
			return steps.ResumeRefuse, cty.NilVal, err
		}
		return steps.ResumeDone, s.output(seqResumed, n), nil
	}
	return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("found %q %s and %q %s, a state the switchover cannot go on from", s.from, roleText(fi), s.to, roleText(ti))
}

// readBoth reads INFO on both nodes, after a FAILOVER the stopped run
// began has ended (the servers finish or abort it by themselves).
func (s *switchover) readBoth(ctx context.Context) (fi, ti map[string]string, err error) {
	deadline := time.Now().Add(s.maxPause + 5*time.Second)
	for {
		if fi, err = redis.ReadInfo(ctx, s.fc); err != nil {
			return nil, nil, fmt.Errorf("INFO on %q: %w", s.from, err)
		}
		if st := fi["master_failover_state"]; st == "" || st == "no-failover" {
			break
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("node %q is still in a FAILOVER (%s)", s.from, fi["master_failover_state"])
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if ti, err = redis.ReadInfo(ctx, s.tc); err != nil {
		return nil, nil, fmt.Errorf("INFO on %q: %w", s.to, err)
	}
	return fi, ti, nil
}

// noWritesSincePromotion checks, when both nodes are masters, that the new
// master's history continues the old one's (its master_replid2 is the old
// master's replication id) and that the old master's offset has not moved
// past the point where the new one was promoted (second_repl_offset - 1).
func (s *switchover) noWritesSincePromotion(fi, ti map[string]string) error {
	if ti["master_replid2"] != fi["master_replid"] {
		return fmt.Errorf("found %q and %q both masters, and %q was not promoted from %q's replication stream (or one of them restarted since): decide by hand which node keeps the data", s.from, s.to, s.to, s.from)
	}
	s.offset = redis.Int(ti, "second_repl_offset") - 1
	if ahead := redis.Int(fi, "master_repl_offset") - s.offset; ahead > 0 {
		return fmt.Errorf("found %q and %q both masters, and %q's replication offset is %d bytes past the point where %q was promoted (%d): it took writes (or expired keys) after the promotion that %q does not have, and demoting it would discard them; decide by hand which node keeps the data", s.from, s.to, s.from, ahead, s.to, s.offset, s.to)
	}
	return nil
}

// finish does what the sequence does after the promotion, each part
// idempotent: re-point the endpoint, demote the old master (when demote),
// let its pause end, restore the fence, re-point the old master's other
// replicas. fi is the old master's INFO, read before.
func (s *switchover) finish(ctx context.Context, fi map[string]string, demote bool) (int, error) {
	others, err := s.declaredReplicas(redis.Replicas(fi))
	if err != nil {
		return 0, err
	}
	ctx, cancel := s.critical(ctx)
	defer cancel()
	if s.ep != nil && s.ep.Target() != s.to {
		if err := s.repointEndpoint(ctx); err != nil {
			return 0, err
		}
		s.x.Log("endpoint re-pointed to %s", s.to)
	}
	if demote {
		if err := redis.ReplicaOf(ctx, s.fc, s.from, s.toAddr, s.toN.MasterAuth()); err != nil {
			return 0, fmt.Errorf("demote %q: %w", s.from, err)
		}
		s.x.Log("%s demoted to a replica of %s", s.from, s.to)
	}
	if v, err := redis.VersionFromInfo(fi); err == nil && v.HasFailover() {
		// A pause the stopped run sent ends now rather than by itself.
		_ = s.fc.Do(ctx, "CLIENT", "UNPAUSE").Err()
	}
	if err := s.unfence(ctx); err != nil {
		return 0, err
	}
	return s.repointOthers(ctx, others)
}

// unfence restores min-replicas-to-write 0 on the old master when the
// stopped run had set it to 1 (its log says so) and it is still 1.
func (s *switchover) unfence(ctx context.Context) error {
	if !slices.Contains(s.x.ResumeLog(), fmt.Sprintf(fenceLog, s.from)) {
		return nil
	}
	cur, err := s.fc.ConfigGet(ctx, "min-replicas-to-write").Result()
	if err != nil {
		return fmt.Errorf("CONFIG GET min-replicas-to-write on %q: %w", s.from, err)
	}
	if cur["min-replicas-to-write"] != "1" {
		return nil
	}
	if err := s.fc.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
		return fmt.Errorf("restore min-replicas-to-write 0 on %q: %w", s.from, err)
	}
	s.x.Log("restored min-replicas-to-write 0 on %s (the stopped switchover had set it)", s.from)
	return nil
}

// masterAddr is the master a replica's INFO names, host:port.
func masterAddr(info map[string]string) string {
	return net.JoinHostPort(info["master_host"], info["master_port"])
}

// roleText says what a node's INFO shows it is: "a master", "a replica of
// host:port (link down)".
func roleText(info map[string]string) string {
	if info["role"] == "slave" {
		return fmt.Sprintf("a replica of %s (link %s)", masterAddr(info), info["master_link_status"])
	}
	return "a " + info["role"]
}

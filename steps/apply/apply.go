package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/report"
	"github.com/understudy/understudy/steps/topology"
	"github.com/understudy/understudy/steps/traffic"
)

// Options configure one apply.
type Options struct {
	// Runbook is the runbook's file name, for the report and the lock.
	Runbook string
	// Version is understudy's version, for the lock and the journal.
	Version string
	// Log receives progress lines, secrets redacted; nil discards.
	Log io.Writer
	// Secrets are redacted from every output; nil: the runbook's own.
	Secrets *redact.Secrets
	// Variables are shown in the report (sensitive ones masked).
	Variables map[string]string
	// Planned, when applying a saved plan, are the nodes as planned: a
	// node that changed since refuses the apply before the first write.
	Planned []NodeState
	// CanaryRate is the canary's writes per second where the application
	// writes (an endpoint's address, Sentinel, or a cluster client); 0 means
	// DefaultCanaryRate, negative no canary.
	CanaryRate int
	// Comparer runs the verify steps' comparisons; nil: in this process.
	Comparer dataset.Comparer
	// Hooks are called after apply's own (progress, report, canary
	// marks, lock).
	Hooks []steps.Hook
	// LockTTL is the lease of the lock on the nodes, renewed every third
	// of it while the apply runs; 0 means DefaultLockTTL.
	LockTTL time.Duration
	// Lock is the lock to take (its ID is the run's, in the journal);
	// zero: a new one.
	Lock LockInfo
	// Resume continues the run a journal recorded; TakeOver is that run's
	// lock ID, broken if it is still held (the run died).
	Resume   *steps.Resume
	TakeOver string
	// DryRun runs every step once for its reads and sends no write: the
	// topology must be in dry-run mode (live.Topology.DryRun). No lock,
	// no canary.
	DryRun bool
}

// DefaultLockTTL is how long a lock outlives a run that died without
// releasing it: long enough that a slow renewal (a node that takes a few
// dial attempts) does not lose it.
const DefaultLockTTL = 30 * time.Second

// DefaultCanaryRate is the canary's default rate: low enough to be noise
// next to any production traffic, high enough to time a switchover to a
// few milliseconds.
const DefaultCanaryRate = 200

// CanaryPrefix starts every key the canary writes; the keys are removed at
// the end, and every data comparison leaves them out.
const CanaryPrefix = "understudy:canary:"

// ErrRefused wraps the reasons an apply is refused before its first write.
var ErrRefused = errors.New("apply refused")

// Preflight reads every node of the runbook and, when a plan is given,
// checks that the runbook files and the nodes are still what was planned.
// It sends nothing but INFO. An error wraps ErrRefused and names every
// reason.
func Preflight(ctx context.Context, rb *dsl.Runbook, t topology.Topology, plan *Plan) ([]NodeState, error) {
	var reasons []string
	if plan != nil {
		reasons = append(reasons, plan.CheckFiles()...)
	}
	// A live upgrade needs the node's lifecycle command.
	reasons = append(reasons, report.MissingLifecycles(rb)...)
	nodes, err := ReadNodes(ctx, t, rb.NodeNames())
	if err != nil {
		reasons = append(reasons, err.Error())
	} else if plan != nil {
		reasons = append(reasons, Changes(plan.Nodes, nodes)...)
	}
	if len(reasons) > 0 {
		return nil, fmt.Errorf("%w, nothing was sent:\n  - %s", ErrRefused, strings.Join(reasons, "\n  - "))
	}
	return nodes, nil
}

// Run applies the runbook to the nodes of t: the canary where the
// application writes (through the first endpoint that declares its
// address, through the sentinels of a Sentinel deployment, or through a
// cluster client to a Redis Cluster), the steps with their rollback, then
// the canary's ledger read back from the final master (the endpoint's
// target, the data node the sentinels name, or for a cluster each key's
// master at the end).
// Call Preflight first. The report says how it went; an error means the
// apply could not run at all.
func Run(ctx context.Context, rb *dsl.Runbook, t topology.Topology, nodes []NodeState, o Options) (*report.Report, error) {
	origin := time.Now()
	secrets := o.Secrets
	if secrets == nil {
		secrets = redact.New(rb.Secrets()...)
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	lw := secrets.Writer(log)
	defer lw.Close()
	rep := &report.Report{Runbook: o.Runbook, Mode: "apply", Status: steps.StatusFailed, Variables: o.Variables}
	for _, n := range nodes {
		rep.Nodes = append(rep.Nodes, report.Node{Name: n.Name, VersionBefore: n.Version})
	}

	var hooks []steps.Hook
	var can *canary
	if !o.DryRun {
		lock, err := lockNodes(ctx, rb, t, o)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(lw, "lock %s taken on every data node (lease %s, renewed while the apply runs)\n", lock.Info().ID, lock.TTL())
		defer func() {
			if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
				fmt.Fprintf(lw, "warning: release lock %s: %v (understudy unlock %s %s)\n", lock.Info().ID, err, o.Runbook, lock.Info().ID)
			}
		}()
		keepCtx, stopKeep := context.WithCancel(context.WithoutCancel(ctx))
		defer stopKeep()
		lock.Keep(keepCtx)
		hooks = append(hooks, NewLockHook(lock))
		if can, err = startCanary(ctx, rb, t, o, origin); err != nil {
			return nil, err
		}
	}
	switch {
	case can != nil:
		fmt.Fprintf(lw, "canary: %d writes/s through %s (keys %s*)\n", can.rate, can.target.via, can.prefix)
	case !o.DryRun && o.CanaryRate >= 0:
		fmt.Fprintln(lw, "canary: none (no endpoint declares the application's address, and no Sentinel or Cluster deployment is declared)")
	}

	hooks = append([]steps.Hook{steps.NewProgress(lw, rb), report.NewRecorder(rep, rb, origin, secrets)}, hooks...)
	if can != nil {
		hooks = append(hooks, &traffic.StepMarks{W: can.w})
	}
	hooks = append(hooks, o.Hooks...)
	exclude := []string{CanaryPrefix + "*", LockKey}
	if len(rb.Clusters) > 0 {
		// A pattern, not a name: node.NAME.keys does not count a name
		// on a cluster (EXISTS of a key in another slot is MOVED).
		exclude = []string{CanaryPrefix + "*", ClusterLockKeyPattern}
	}
	res := steps.New(rb, steps.Options{Topology: t, Hooks: hooks, ExcludeKeys: exclude, Comparer: o.Comparer, Resume: o.Resume, DryRun: o.DryRun}).Run(ctx)
	rep.Status = res.Status
	if res.RollbackStatus != "" {
		rep.RollbackStatus = res.RollbackStatus
	}
	for _, d := range res.Diagnostics {
		rep.Errors = append(rep.Errors, secrets.String(dsl.DiagnosticLine(d)))
	}

	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if can != nil {
		can.finish(vctx, rep, lw)
	}
	for i, n := range rep.Nodes {
		if node, err := t.Node(n.Name); err == nil {
			if c, err := node.Client(); err == nil {
				if info, err := redis.ReadInfo(vctx, c, "server", "replication"); err == nil {
					if v, err := redis.VersionFromInfo(info); err == nil {
						rep.Nodes[i].VersionAfter = v.String()
					}
					rep.Nodes[i].RoleAfter = redis.RoleFromInfo(info)
				}
			}
		}
	}
	rep.DurationMS = float64(time.Since(origin).Microseconds()) / 1000
	return rep, nil
}

// lockNodes takes the lock on every node of the runbook: the first write
// of an apply, refused (a *HeldError) while another run holds it.
func lockNodes(ctx context.Context, rb *dsl.Runbook, t topology.Topology, o Options) (*Lock, error) {
	var nodes []Node
	for _, name := range rb.DataNodeNames() {
		_, c, err := topology.NodeClient(t, name)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, Node{Name: name, Client: c})
	}
	ttl := o.LockTTL
	if ttl == 0 {
		ttl = DefaultLockTTL
	}
	info := o.Lock
	if info.ID == "" {
		info = NewLockInfo("apply", o.Runbook, o.Version)
	}
	l, err := Acquire(ctx, nodes, info, ttl)
	if held := (*HeldError)(nil); o.TakeOver != "" && errors.As(err, &held) && held.Info.ID == o.TakeOver {
		// The run being resumed died holding its lock.
		if _, err := Unlock(ctx, nodes, o.TakeOver); err != nil && !errors.Is(err, ErrNoLock) {
			return nil, fmt.Errorf("take over lock %s of the run being resumed: %w", o.TakeOver, err)
		}
		l, err = Acquire(ctx, nodes, info, ttl)
	}
	return l, err
}

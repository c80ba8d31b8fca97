package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redact"
)

// unlockTimeout bounds the whole unlock: a few commands per node.
const unlockTimeout = 30 * time.Second

func runUnlock(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("unlock", "RUNBOOK LOCK_ID [--var NAME=VALUE]... [--var-file F]...",
		"Removes the apply lock LOCK_ID ('"+apply.LockKey+"'; on a Redis Cluster '"+apply.LockKey+":{SLOT.N}'\n"+
			"on each master) from the runbook's nodes, for an apply\n"+
			"that ended without releasing it (killed, or its machine lost). The error of the apply\n"+
			"that was refused gives the ID, with who holds the lock, where, its pid and since when:\n"+
			"make sure that run is no longer running first. Only the lock with that ID is removed;\n"+
			"when the nodes hold another one, nothing is removed and its ID is printed. The nodes\n"+
			"are reached as apply reaches them (the runbook's addresses and credentials). Exit code 0\n"+
			"when the lock was removed; 1 when no node holds it or another lock is there.", stderr)
	in := inputFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 2 {
		return usageError(fs, stderr, fmt.Sprintf("unlock needs the runbook file and the lock ID, got %d arguments", len(pos)))
	}
	file, id := pos[0], pos[1]
	rb, ok := load(stderr, []string{file}, in, dsl.ModeLive)
	if !ok {
		return exitUsage
	}
	secrets := redact.New(rb.Secrets()...)
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "understudy unlock: %s\n", secrets.String(err.Error()))
		return code
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, unlockTimeout)
	defer cancel()
	t := live.New(rb)
	defer t.Close(context.WithoutCancel(ctx))
	var nodes []apply.Node
	for _, name := range rb.DataNodeNames() {
		n, err := t.Node(name)
		if err != nil {
			return fail(exitUsage, err)
		}
		c, err := n.Client()
		if err != nil {
			return fail(exitInternal, fmt.Errorf("node %q: %w", name, err))
		}
		nodes = append(nodes, apply.Node{Name: name, Client: c})
	}

	removed, err := apply.Unlock(ctx, nodes, id)
	out := secrets.Writer(stdout)
	for _, r := range removed {
		fmt.Fprintf(out, "Removed lock %s from node %q: it was held by %s.\n", id, r.Node, r.Info)
	}
	_ = out.Close()
	var held *apply.HeldError
	switch {
	case errors.As(err, &held), errors.Is(err, apply.ErrNoLock):
		return fail(exitFailed, err)
	case err != nil:
		return fail(exitInternal, err)
	}
	return exitOK
}

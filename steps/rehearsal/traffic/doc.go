// Package traffic is the rehearsal's proof of "no acknowledged write lost,
// write stall of milliseconds": a writer that runs through an upgrade against
// the application's endpoint and keeps a ledger of every write the server
// acknowledged.
//
// Each write is SET <prefix><n> <run id>:<n>, a value no other write has. A
// write is acknowledged when SET returned OK, after go-redis's default
// retries, exactly as an application would see it. The ledger is one bit per
// write number. At the end, Verify reads every acknowledged key back from the
// final master; an acknowledged write that is missing or holds another value
// is lost.
//
//	w, err := traffic.Start(ctx, traffic.Options{Addr: endpoint, Password: pw})
//	...
//	w.Mark("switchover")
//	... run the step ...
//	r := w.Stop()
//	err = w.Verify(ctx, finalMaster, r) // r.Lost
//
// Scheduling: write n is due n/Rate seconds after the start and goes to the
// next free worker. Workers (default 4) write concurrently, so one stalled
// write does not stop the clock. When every worker is stuck, the slots that
// pass are dropped, not queued: after the stall at most Workers writes go out
// together, then the rate resumes. A stall therefore shows in the timeline as
// a dip and in MaxStallMS, never as a burst that hides it.
//
// The report counts attempted, acknowledged, failed and lost writes, failures
// by kind (the server's error code such as READONLY, NOREPLICAS or LOADING,
// or EOF, timeout, connection), the longest gap between acknowledgements and
// when it ended, and a timeline of Interval buckets (acknowledged writes,
// errors, p50/p99/max latency of the writes that completed in the bucket, and
// the marks of the step boundaries that fell in it). Every run is bounded by
// MaxDuration and MaxWrites.
package traffic

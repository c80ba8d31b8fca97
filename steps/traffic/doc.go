// Package traffic is the proof of "no acknowledged write lost, write stall of
// milliseconds", for a rehearsal (the write probe) and for an apply (the
// canary): a writer that runs through an upgrade against
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
//	w, err := traffic.Start(ctx, traffic.Options{Addr: endpoint, Password: pw, Origin: runStart})
//	...
//	w.Mark(traffic.Mark{Step: "promote", Event: traffic.EventStart})
//	... run the step ...
//	w.Mark(traffic.Mark{Step: "promote", Event: traffic.EventEnd, Status: "passed"})
//	r := w.Stop()
//	stalls := r.Attribute([]traffic.Window{{Step: "promote", FromMS: from, ToMS: to}})
//	err = w.Verify(ctx, finalMaster, r) // r.Lost
//
// Time: every instant in the report (marks, gaps, the longest stall, the
// timeline's buckets) is in milliseconds since one origin, Options.Origin,
// which a rehearsal sets to its run's start so that steps, marks, stalls and
// the timeline can be read against each other; without it, the writer's
// start. Buckets are aligned on the origin (bucket i covers [i×Interval,
// (i+1)×Interval)); the timeline begins with the bucket the writer started
// in, and the buckets before it are absent. Report.StartedAtMS says when the
// writer started. The wait for the first acknowledgement counts from the
// writer's start, not from the origin.
//
// Marks are structured (step, "start" or "end", the step's status at the
// end) so that nothing needs to parse them; the timeline renders them as
// short strings ("start promote", "end promote (passed)") for a reader.
//
// Stall attribution: Report.Attribute takes the steps' windows (same
// origin) and gives each gap between acknowledgements of a millisecond or
// more to the one window it overlaps most (ties: the earlier window). A
// step's stall is the longest gap attributed to it, so a stall is counted
// for one step only, and Report.MaxStallStep names the step the longest
// stall is attributed to.
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
// or EOF, timeout, connection), the longest gap between acknowledgements,
// when it ended and (after Attribute) its step, and a timeline of Interval buckets (acknowledged writes,
// errors, p50/p99/max latency of the writes that completed in the bucket, and
// the marks of the step boundaries that fell in it). Every run is bounded by
// MaxDuration and MaxWrites.
package traffic

// Package rehearsal runs a runbook against containers of the real old and
// new versions, under live write traffic, and proves the result.
//
// A rehearsal:
//  1. refuses a runbook whose nodes lack a rehearsal block (nothing starts);
//  2. removes containers left by a crashed earlier run, then starts one
//     container per node (package container) with a random password shared
//     by the nodes of this rehearsal;
//  3. puts an in-process proxy (package proxy) at every endpoint, pointing
//     at the endpoint's target;
//  4. seeds the nodes the endpoints target (or those with seed = true) with
//     data of every common type (package dataset) and fingerprints it;
//  5. starts the write probe (package traffic) through the first endpoint,
//     on its own key prefix in its own database, so a runbook's key-count
//     assertions on the application's database are not disturbed;
//  6. runs the interpreter with the containers as its backend, marking each
//     step boundary on the probe's timeline;
//  7. stops the probe, reads every acknowledged write back from the final
//     master (the endpoint's target at the end) and checks that the final
//     master still holds exactly the seeded data;
//  8. removes every container it started — also after a failure and after
//     Ctrl-C (the caller cancels ctx; cleanup runs on a fresh context).
//
// The rehearsal passes only when every step passed, no acknowledged write
// was lost and the data is unchanged.
package rehearsal

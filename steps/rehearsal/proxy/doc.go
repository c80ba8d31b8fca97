// Package proxy is the application endpoint of a rehearsal: an in-process TCP
// proxy in front of Redis that the runbook controls, so that "switch the
// application to the new node" is a real, timed network event.
//
// # Holding and repointing
//
// The lossless switchover is
//
//	p.Hold(ctx)          // no new command reaches any backend; forwarded ones finish
//	... pause the old master, wait for the replica's offset, promote it ...
//	p.Repoint(newAddr)   // every command from now on goes to the new master
//	p.Release()          // held commands go on, to the new master
//
// Hold returns when every command forwarded so far has been answered and its
// reply handed to the client's socket, and every subscriber has been handed
// what its server sent so far (see Subscribers). A client that disconnects
// with commands in flight does not end them early: its backend connection is
// half-closed and counted until the server closes it, that is until the
// server has run them. Commands that arrive during a hold wait unread in the proxy's buffers
// and the kernel's; connections accepted during a hold wait too, and dial a
// backend only for their first command, so they reach the new target.
//
// # What Repoint does with existing connections
//
// No command is forwarded to the old backend after Repoint returns, and every
// backend connection to it is closed. For each client connection the proxy
// then chooses:
//
//   - Moved (the default, when possible): the client connection stays open.
//     Before its next command the proxy dials the new target, replays the
//     connection-state commands that succeeded on the old one, in order
//     (HELLO with its AUTH and SETNAME, AUTH, SELECT, CLIENT SETNAME, CLIENT
//     SETINFO, CLIENT NO-EVICT, CLIENT NO-TOUCH, CLIENT MAINT_NOTIFICATIONS,
//     READONLY, READWRITE), then an open transaction (MULTI and the commands
//     queued since, each of which must be QUEUED again), checks that each
//     succeeds, drops their replies, and forwards the command: EXEC then
//     runs the whole transaction on the new target. The client sees one
//     slower reply and no error. This needs: no command in flight (always
//     true after Hold), no WATCH (the proxy cannot carry the watched keys'
//     versions to another server), no MONITOR or CLIENT REPLY, and no state
//     the proxy cannot replay (CLIENT TRACKING, CLIENT CACHING, unknown CLIENT
//     subcommands that succeeded, a state command inside MULTI, more than 32
//     of them or one over 4 KiB; a transaction of more than 256 commands,
//     256 KiB or with a command over 4 KiB). RESET clears what was recorded.
//     A subscriber is moved in its own way (see Subscribers).
//   - Closed (otherwise, or always with WithCloseOnRepoint): the client
//     connection is closed, as a load balancer does when a backend is removed
//     (HAProxy shutdown-sessions). Commands that were held and never forwarded
//     are dropped with it; a transaction cut by the hold is discarded by the
//     old server. go-redis sees EOF (or a closed pooled connection), retries
//     after its back-off and reconnects, through the proxy, to the new target;
//     but it does not send again a transaction it has written (it may have
//     run): the application gets EOF for a transaction that did not run. If
//     the replay of a moved connection fails (say the new node refuses the
//     password), the connection is closed in the same way.
//
// Both keep the guarantee that matters: nothing is forwarded to the old
// backend after Repoint, and after a Hold nothing is in flight there, so no
// acknowledged write can land on a node that is no longer the master. Moving is
// the default because closing makes every connection with a held command pay
// the client's retry back-off (10 to 30 ms in go-redis v9) on top of the
// switch, while a replayed handshake costs one loopback round trip.
// TestSwitchoverLossless runs the switchover in both modes and logs the stall
// and the slowest write of each: on loopback at 1000 writes/s the slowest
// write took 4 to 6 ms with moved connections and 14 to 31 ms with closed
// ones; the longest gap between acknowledgements was 5 to 7 ms in both, as
// the writer's other workers carried on.
//
// Repoint without a Hold closes the connections that have commands in flight:
// their replies are lost and go-redis retries commands that may have run. And
// writes the old master accepted after the replica's promotion are lost for
// good; TestSwitchoverUnsafeOrder shows Verify catching them.
//
// # Assumptions
//
// The proxy assumes request/reply traffic, the rehearsal's writer: every
// command gets exactly one reply. It reads RESP2 and RESP3 (every type,
// nested aggregates, attributes, which annotate the reply that follows and
// are not replies, and push messages, which answer no command) as a stream,
// tracking frame boundaries without building values, and forwards each read
// as soon as the reader would otherwise wait, with no batching delay, so
// pipelines (redis-benchmark -P 16) go through as they come. A connection
// that sends SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
// MONITOR, SYNC, PSYNC or CLIENT REPLY stops being counted: Hold does not
// wait for its commands. ctx bounds every Hold.
//
// # Subscribers
//
// Pub/sub is at-most-once: a server keeps no message for a subscriber that
// is not subscribed on it. Through the proxy a switchover loses none:
//
//   - Hold, once the commands in flight are answered (so every PUBLISH sent
//     before the hold has run), sends PING <marker> on each subscriber's
//     connection and waits for the reply (at most 100 ms): what the old
//     master sent before it, every message published before the hold, has
//     been forwarded to the subscriber.
//   - Repoint closes the subscriber's old backend connection (a demoted
//     master repeats what its new master publishes: it would come twice),
//     and on a new connection to the new target replays the handshake and
//     SUBSCRIBE and PSUBSCRIBE of the connection's channels and patterns,
//     checks every confirmation and drops them (the client had them). The
//     client connection stays open.
//   - Until those confirmations came, commands that may publish (PUBLISH,
//     SPUBLISH, EVAL, EVALSHA, FCALL and their _RO forms) wait in the proxy,
//     before any of their bytes reach the server; every other command goes
//     on at Release. A subscriber whose channels or patterns may receive
//     keyspace events or client-side caching invalidations (__keyspace@,
//     __keyevent@, __redis__:), which any write sends, is subscribed again
//     before Repoint returns, within the hold.
//
// TestSwitchoverMovesSubscribers switches over while six subscribers (RESP2
// and RESP3, a channel and a pattern each) listen and a publisher publishes
// as fast as it can: no message missed or received twice.
// TestPublishWaitsForResubscription publishes right after Release: the
// message reaches every subscriber; without the wait it misses some. The e2e
// client mix measured 2413 of 2413 on each of four subscriptions across a
// 7.0 → 8.0 switchover, with no disconnection.
//
// What a subscriber can still miss during a switchover through the proxy:
// messages published straight on a node, not through the endpoint, between
// the hold and its subscription on the new node; and everything published
// while it reconnects when its connection is closed instead of moved. That
// is the case with WithCloseOnRepoint; for a Repoint without a Hold (a
// repoint step); for a connection that used MONITOR, CLIENT REPLY, CLIENT
// TRACKING, SSUBSCRIBE (sharded pub/sub), sent another command while
// subscribed (RESP3 allows it), a (P)SUBSCRIBE over 4 KiB, more than 4096
// channels and patterns, or whose marker did not come back within 100 ms
// (Stats.LateMarks). go-redis then resubscribes on its next Receive,
// through the proxy, to the new node; messages published from the Release
// until its SUBSCRIBE runs there are lost to it (measured before subscribers
// were moved: 1 of about 160 per switch, a PUBLISH held by the hold that
// reached the new master before the subscriber's SUBSCRIBE). A Repoint that
// comes while the previous one still subscribes its subscribers closes
// them. Messages are never received twice.
//
// # Blocking commands
//
// A blocking command (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD, WAIT …) may
// never be answered (BLPOP k 0 on an empty list), so Hold does not wait for
// it: job-queue consumers do not freeze a switchover. No write reaches the
// old master after a Hold, so nothing there can serve the blocked command
// any more. Repoint leaves such a connection on the old backend ("retiring")
// and reads one more reply there: the old master's demotion answers the
// command -UNBLOCKED, which is dropped, and the client connection is closed,
// so the client retries the command on the new master (go-redis does on EOF);
// a real reply (an element popped just before the switch) is forwarded, and
// the connection moves on like any other. A command still blocked 10 s after
// the switch (an old master that was not demoted) has its connection closed.
// TestSwitchoverWithBlockedConsumers runs three consumers in BLPOP jobs 0
// and a producer through a switchover: every acknowledged push is popped
// exactly once; TestSwitchoverWithClientMix adds a stream consumer in XREAD
// BLOCK 0: every entry added is read once. XREAD and XREADGROUP count as
// blocking with or without BLOCK (the proxy looks at two arguments only);
// one without BLOCK is answered at once anyway. On 6.0 the old master is
// demoted only when its pause ends (2 s by default): its blocked consumers
// wait that long, the others do not. A command pipelined behind a blocking
// one waits with it, and Hold waits for that command.
package proxy

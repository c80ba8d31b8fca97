// Package dataset seeds a Redis server with a reproducible data set and
// proves that two servers hold the same data, before and after an upgrade.
//
// # Seeding
//
// Seed writes production-like data in pipelined batches: by default 100 000
// keys under the prefix "seed:", named <prefix><kind>:<n>, spread over the
// databases 0, 1 and 3 (half in the first). In every 200 keys: 90 strings
// (integer, text and binary values, now and then 1 to 4 KB), 28 hashes, 18
// lists, 18 sets (integer and text), 26 sorted sets (about half the
// scores not integers: 0.1, -2.25, 0.001, 1.234e-9), 2 streams, 6
// HyperLogLogs (PFADD, some dense), 6 geo sets (GEOADD) and 6 bitmaps
// (SETBIT at spread offsets).
// Some collections are longer than a listpack (ziplist) may be. Streams
// have deleted entries (XDEL), one to three consumer groups whose consumers
// read entries (XREADGROUP) and acknowledged some (XACK), so pending entries
// lists are not empty, and a last ID past the last entry (XSETID). A tenth of
// the keys get a TTL, half with EXPIRE (24 to 25 hours), half with PEXPIRE
// (30 to 31 hours, never whole seconds), so nothing expires during a
// rehearsal (replicas do not expire keys themselves); on servers with hash
// field expiration (Redis 7.4+, Valkey 9.0+) a tenth of the hashes get
// HPEXPIRE on one to three fields (12 to 13 hours). Besides the ordinary
// keys: a 1 000 000-field hash <prefix>big:hash and a 10 MiB string
// <prefix>big:string in the first database, written 1 000 fields per HSET
// and 256 KiB per APPEND so that no command holds the server long
// (SkipBigKeys leaves them out); the function library understudy_seed (three
// functions, one flagged no-writes; Redis 7.0+ and Valkey); and the ACL user
// understudy-seed-app, limited to <prefix>* keys (and channels, 6.2+),
// +@read +@write +@pubsub -@dangerous, with a password given only as its
// SHA-256. ACL users are not replicated: a replica does not get it.
//
// Key names depend only on the prefix, the key count, the databases and the
// type mix, the content only on the PRNG seed (stream delivery times
// aside), and collections are unlinked before they are written, the library
// loaded with REPLACE and the user reset: seeding twice with the same
// options gives the same data, and every server version gets the same keys
// and values. What a server lacks is left out and named in
// SeedSummary.Skipped; Redis 6.0 gets no functions, no hash field TTLs and
// no ACL channel rules, and only commands it knows are sent. Measured on
// loopback (Redis 7.0.15, a two-CPU machine shared with other work): 1.8
// to 3.6 s for the 100 000 keys (about 1.2 s of it server time), 3.5 to 7 s
// with the big keys (the 1M-field hash costs the server about 1.2 s, about
// 1.2 ms per HSET); the server then uses about 140 MB. Note that a 7.0+ master propagates
// EXPIRE as PEXPIREAT and SET .. EX as SET .. PXAT, so a 6.0 replica of a
// newer master is not a setting that seeding (or any TTL write) survives;
// and DEBUG DIGEST of the non-integer scores differs between 7.0 and 7.2+.
//
// # Comparing
//
// Compare proves two live servers hold the same data, usually a master and
// its replica (the verify step). Method "auto" (the default; "scan" is the
// same) compares, in every database that holds keys on either server
// (CompareOptions.DBs chooses others), every key that matches Match and no
// Exclude pattern:
//
//   - its type and value, in a canonical form: set members and hash fields
//     in any order, sorted set scores as float64 (7.0 prints 0.1 as
//     0.10000000000000001, 7.2+ as 0.1), list elements and stream entries
//     in order; the cached cardinality in a HyperLogLog's header, which
//     PFCOUNT rewrites, is left out;
//   - its TTL, as an absolute expiry: the server's own time (TIME, sent
//     before and after the TYPE and PTTL of a batch, in the same pipeline)
//     plus PTTL, so neither network latency nor clock skew between hosts
//     counts. Two expiries are equal within half the time each pipeline
//     took on its server plus 10 ms (PTTL rounding, and a 6.0 master
//     propagates EXPIRE as a relative TTL that its replica applies a little
//     later); Result.TTLToleranceMS is the largest tolerance used, usually
//     10 to 30 ms. "ttl differs: 24h0m0s vs 1m0s" shows both remaining TTLs
//     as of b's read;
//   - the TTLs of hash fields (HPEXPIRETIME, exact: absolute and replicated
//     as such) where both servers have hash field expiration (Redis 7.4+,
//     Valkey 9.0+); a Note says so when only one has it. They are read only
//     in databases whose INFO keyspace reports hashes with field TTLs
//     (subexpiry) on either side, or does not report it;
//   - the metadata of a stream: last-generated-id, max-deleted-entry-id and
//     entries-added (7.0+: compared when both servers report them), and per
//     consumer group its name, last-delivered-id, entries-read (7.0+), its
//     consumers with their pending counts, and its pending entries (ID,
//     consumer, delivery count). Idle, seen and inactive times, lag and
//     recorded-first-entry-id are derived or differ between a master and
//     its replica, and are left out;
//
// then the function libraries (FUNCTION LIST WITHCODE: name, engine, code,
// function names and flags) and the ACL users (see below). Every difference
// names the key with its database, or the library or user, and what
// differs (Diff.String): `db3 "seed:x": ttl differs: 24h0m0s vs 1m0s`,
// `db0 "q": stream group "g1" last-delivered-id 5-0 vs 7-0`, `... pending
// entries differ (2 vs 1)`, `hash field "f3" ttl missing on b`, `function
// library "understudy_seed": missing on b`, `acl user "app": key patterns
// differ: ~app:* vs ~other:*`, `acl user "app": passwords differ` (password
// hashes are compared as a set and never shown). Only the first difference
// of a key is named. Once MaxDiffs differences are listed Compare stops
// reading values and only counts keys. A key whose type or length changes
// while it is read is reported as "changed while being read on a":
// Compare reports what it saw, and a replica briefly differs from its
// master while writes flow; looking again (CompareKeys, which takes each
// key's database) is the caller's business, as verify does.
//
// # Reading without blocking
//
// No command or pipeline Compare, TakeSnapshot or CheckSnapshot sends keeps
// a server busy for more than a few milliseconds. Keys come from SCAN
// (COUNT 1000) in batches of 1 000; per batch one pipeline reads TIME, TYPE,
// PTTL, TIME, a second the length of every key (STRLEN, HLEN, LLEN, SCARD,
// ZCARD), MEMORY USAGE of collections (where allowed; O(1) with its default
// sampling) and XINFO STREAM and XINFO GROUPS of streams. Small values are
// then read whole (GET, HGETALL, LRANGE, SMEMBERS, ZRANGE, XRANGE) in
// pipelines of at most 8 000 reply elements and 1 MB; a key of more than
// 1 000 elements or 256 KB is read one command at a time in chunks:
// GETRANGE of 256 KB, LRANGE and ZRANGE by index ranges and XRANGE with
// COUNT of up to 1 000 elements (fewer when MEMORY USAGE says they are big),
// HSCAN and SSCAN with COUNT 1 000. HPEXPIRETIME takes up to 1 000 fields,
// XPENDING up to 1 000 entries per call. HSCAN COUNT 1000 on a hash of a
// million fields takes 0.9 ms at best on the server (SLOWLOG; 2 ms median,
// 3.5 ms p90 on the shared two-CPU test machine at a load average of 6).
// There, a writer (PING and SET in a process of its own, TestCompareStall)
// waited at most 17 to 38 ms for a reply while Compare read such a hash and
// a 10 MB string from its master and a replica, against 6 to 15 ms while
// nothing ran: on that machine the figure is mostly CPU scheduling (O(1)
// commands such as XINFO STREAM also took up to 28 ms). The old whole-value
// reads stalled it 402 ms, DEBUG DIGEST 1 522 ms.
//
// Memory stays bounded: the records of one batch (fixed-size hashes, no
// values), one pipeline's replies, a 16-byte hash per key to drop the
// duplicates SCAN may return, and for a collection read with HSCAN or SSCAN
// a 16-byte hash per element (about 40 MB for a million fields, released
// after the key) to count each element once. Set members, hash fields and
// sorted set members are hashed one by one into an order-independent sum,
// so the digest is the same whether a value was read whole or in chunks.
//
// # ACL users across versions
//
// Users are read with ACL USERS and ACL GETUSER and normalized: enabled or
// not; the set of password hashes (and nopass); key patterns as "~p",
// "%R~p", "%W~p" ("%RW~p" is "~p", 6.x's allkeys flag is "~*"); channel
// patterns ("&p", allchannels is "&*") where both servers have channel
// permissions (6.2+: a Note says so for 6.0); selectors (7.0+) as sets of
// the same; command rules. Command rules compare equal when their text does
// once lower-cased and with runs of rules on distinct commands sorted (7.0
// lists them in an order that changes from call to call). Otherwise each
// server's rules are applied to its own command table (ACL CAT per
// category) and the commands both servers know are compared: a command one
// side allows and the other does not is a difference when both servers put
// it in the same categories, and only a Note when they do not, because the
// same rules then mean different things on the two versions. Seen here:
// 7.0 shows "+@read +@write +@pubsub -@dangerous" compacted, with
// +@blocking; copied to 8.0 or Valkey 8.1 (copy_users) those rules also
// allow WAIT, which joined @blocking in 7.2. 6.0 put ECHO and TIME in @read
// (from their read-only flag), 7.0 does not; 6.0 lists the pseudo-commands
// POST and HOST:, which 7.0 refuses. Between 6.x and 7.0+ commands with
// subcommands (CONFIG, CLIENT, OBJECT...) and first-argument rules
// ("+select|0") are not compared: 6.x has no subcommands and reads
// "+config|get" as a first-argument rule. The sanitize-payload flags are
// not compared: 8.0 and Valkey 8.1 give new users sanitize-payload, 7.0
// does not, and they matter only for RESTORE.
//
// Not compared at all: module types (JSON, time series, vector sets: a key
// of such a type is a difference, "type X not comparable"), object
// encodings, LRU/LFU data, the Lua script cache, server configuration.
//
// # The digest method
//
// Method "digest" is only used when asked for. It compares with DEBUG
// DIGEST, which hashes the whole server (every database) and so is used
// only when Compare covers every database with no Match or Exclude, else
// with DEBUG DIGEST-VALUE for 50 keys at a time (and per key to find the
// differing keys when the whole digests differ). Either blocks the server
// for the whole digest: DEBUG DIGEST took 1.2 to 1.7 s for 100 000 keys
// (14 MB) on Redis 7.0, and 1 522 ms for a hash of a million fields and a
// 10 MB string. Digests see TTL presence but not TTL values, and neither
// stream consumer groups, function libraries nor ACL users; non-integer
// sorted set scores hash differently on 7.0 and 7.2+. DEBUG is refused by
// Redis 7.0+ unless the server runs with enable-debug-command yes (or
// local, for loopback clients): Compare then fails with ErrDebugNotAllowed.
//
// # Snapshots
//
// TakeSnapshot records what one server holds at one moment, for a server
// checked later (the rehearsal's data check: a snapshot of the seeded keys
// right after seeding, checked on the final master at the end): per key its
// database and name, type, value digest, absolute expiry, hash field TTL
// digest and stream metadata, read as Compare reads, plus the function
// libraries and the ACL users. A key is 40 bytes plus its name (and its
// stream metadata): 100 000 seeded keys take about 6 MB. A key that changes
// while it is read is read again, up to three times; keys of module types
// make it fail. CheckSnapshot reads exactly the snapshot's keys from a
// server, in batches, and names the first that are missing or differ, with
// reasons as Compare's ("snapshot" and "server" for a and b); keys that are
// not in the snapshot, written by a workload or an outside client, are not
// looked at. Snapshot.Sum hashes the keys (name, type, value, TTL presence)
// into one order-independent sum, for servers seeded at different times
// that are never online together.
package dataset

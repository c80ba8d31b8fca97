// Package dataset seeds a Redis server with a reproducible data set and
// proves that two servers hold the same data, before and after an upgrade.
//
// # Seeding
//
// Seed writes every common type (strings with integer, text and binary
// values; hashes; lists; sets, integer and text; sorted sets with integer
// scores; streams without consumer groups) in pipelined batches. Key names
// depend only on the prefix and the key count, the content only on the seed,
// so seeding twice with the same options gives the same data. A tenth of the
// keys get a TTL of about a day, so nothing expires during a rehearsal
// (replicas do not expire keys themselves). Only commands that Redis 6.0
// knows are used. Note that a 7.0+ master propagates EXPIRE as PEXPIREAT and
// SET .. EX as SET .. PXAT, so a 6.0 replica of a newer master is not a
// setting that seeding (or any TTL write) survives.
//
// # Comparing
//
// Compare checks one logical database on two servers with one of three
// methods, reported in Result.Method:
//
//   - "debug-digest": DEBUG DIGEST on both servers. It hashes the logical
//     content of the whole server (every database, key names, types, values
//     and whether a key has a TTL, not the TTL itself), so it is only used
//     when no Exclude pattern is given and no other database holds keys.
//     Equal digests prove equal data. It hashes every element with SHA-1
//     and blocks the server while it runs: measured 1.2 to 1.7 s for the
//     100 000 keys (14 MB) Seed writes on Redis 7.0 on an idle two-CPU
//     machine, over 3 s (go-redis's default read timeout) on a busy one.
//     Compare waits for DEBUG answers for the rest of ctx, or 10 minutes.
//   - "debug-digest-value": SCAN, then DEBUG DIGEST-VALUE on batches of keys,
//     per key on both servers. Used with Exclude patterns, when other
//     databases hold keys, and to find the differing keys when the whole
//     digests differ. Like DEBUG DIGEST it sees TTL presence, not TTL values.
//     The calls go 50 keys at a time, one after another, so the server
//     serves other clients between them (about a millisecond each).
//   - "scan": SCAN, then TYPE, PTTL and the value of every key (GET, HGETALL,
//     LRANGE, SMEMBERS, ZRANGE WITHSCORES, XRANGE) on both servers. Values are
//     compared in a canonical form: set members and hash fields in any order,
//     sorted set scores as float64, TTLs present on both sides and within 5 s.
//
// The digests were measured equal across Redis 6.0, 7.0, 8.0 and Valkey 8.1
// for strings, hashes, lists and integer-score sorted sets. Non-integer
// scores hash differently on 7.0 and 7.2+ (doubles are printed in a shorter
// form), and digests ignore stream consumer groups; the scan method parses
// scores as numbers and is not affected by the first. DEBUG is refused by
// Redis 7.0+ unless the server runs with enable-debug-command yes (or local,
// for loopback clients): Method "auto" then falls back to "scan", Method
// "digest" fails with ErrDebugNotAllowed.
//
// Exclude patterns use Redis glob syntax (as in KEYS and SCAN MATCH). SCAN
// MATCH cannot exclude, so every key is scanned and excluded keys are dropped
// on the client. Compare holds at most one batch of values per server in
// memory, plus a 16-byte hash per key (and map overhead) to drop the
// duplicates SCAN may return; a single key's value is read whole. The scan
// method and Take do not see hash field TTLs (HEXPIRE, 7.4+) and cannot read
// module types: the scan method reports such keys as differences, Take
// fails. Compare reports what it saw: a replica can briefly differ from its
// master while writes flow, and retrying is the caller's business.
//
// # Fingerprints
//
// Take hashes the logical content of one database (key, type, canonical
// value, TTL presence) into an order-independent Fingerprint that is the same
// on every server version, for servers that are never online at the same time
// or where DEBUG is disabled.
package dataset

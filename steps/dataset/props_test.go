package dataset

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// cmd is a command in a database.
type cmd struct {
	db   int
	args []interface{}
}

func on(db int, args ...interface{}) cmd { return cmd{db: db, args: args} }

// property is one thing Compare and the snapshot check must see: set up
// equal on two servers, changed on b only.
type property struct {
	name   string
	setup  []cmd
	change []cmd
	id     string // diffID of the difference
	// reason is what Compare says (a regular expression); snapshot what
	// CheckSnapshot says, "" for the same with a and b read as "snapshot"
	// and "server", "-" for no difference (a key that is not in the
	// snapshot).
	reason, snapshot string
}

// dayStr stands for the same absolute expiry on both servers, a day from
// the moment a property is set up (ms); dayPlus(n) for n ms later.
const dayStr = "$DAY"

func dayPlus(ms int) string { return fmt.Sprintf("$DAY+%d", ms) }

// expand replaces dayStr and dayPlus in args with day.
func expand(args []interface{}, day int64) []interface{} {
	out := make([]interface{}, len(args))
	for i, a := range args {
		out[i] = a
		if s, ok := a.(string); ok && strings.HasPrefix(s, dayStr) {
			var n int64
			fmt.Sscanf(strings.TrimPrefix(s, dayStr), "+%d", &n)
			out[i] = fmt.Sprint(day + n)
		}
	}
	return out
}

const libCode = "#!lua name=lib\nredis.register_function{function_name='f1', callback=function(keys, args) return 1 end, flags={'no-writes'}}\n"

var streamSetup = []cmd{
	on(0, "XADD", "s", "1-1", "f", "v"), on(0, "XADD", "s", "2-1", "f", "v"), on(0, "XADD", "s", "3-1", "f", "v"),
	on(0, "XGROUP", "CREATE", "s", "g1", "0"),
	on(0, "XREADGROUP", "GROUP", "g1", "c1", "COUNT", "2", "STREAMS", "s", ">"),
}

// properties run on Redis 7.0.
var properties = []property{
	{name: "string value", setup: []cmd{on(0, "SET", "k", "v")}, change: []cmd{on(0, "SET", "k", "w")}, id: "k", reason: "value differs"},
	{name: "hash value", setup: []cmd{on(0, "HSET", "k", "f", "v")}, change: []cmd{on(0, "HSET", "k", "f", "w")}, id: "k", reason: "value differs"},
	{name: "list value", setup: []cmd{on(0, "RPUSH", "k", "a", "b")}, change: []cmd{on(0, "LSET", "k", "1", "c")}, id: "k", reason: "value differs"},
	{name: "set value", setup: []cmd{on(0, "SADD", "k", "a", "b")}, change: []cmd{on(0, "SADD", "k", "c")}, id: "k", reason: "value differs"},
	{name: "zset score", setup: []cmd{on(0, "ZADD", "k", "0.1", "m")}, change: []cmd{on(0, "ZADD", "k", "0.3", "m")}, id: "k", reason: "value differs"},
	{name: "stream entry", setup: streamSetup, change: []cmd{on(0, "XADD", "s", "4-1", "f", "v")}, id: "s", reason: "value differs"},
	{name: "type", setup: []cmd{on(0, "SET", "k", "v")}, change: []cmd{on(0, "DEL", "k"), on(0, "SADD", "k", "v")}, id: "k", reason: "type string vs set"},
	{name: "ttl value 24h to 60s", setup: []cmd{on(0, "SET", "k", "v", "PXAT", dayStr)}, change: []cmd{on(0, "EXPIRE", "k", "60")}, id: "k", reason: "ttl differs: 24h0m0s vs 1m0s"},
	{name: "ttl removed", setup: []cmd{on(0, "SET", "k", "v", "PXAT", dayStr)}, change: []cmd{on(0, "PERSIST", "k")}, id: "k", reason: "ttl missing on b"},
	{name: "ttl added", setup: []cmd{on(0, "SET", "k", "v")}, change: []cmd{on(0, "EXPIRE", "k", "86400")}, id: "k", reason: "ttl missing on a"},
	{name: "ttl 250 ms later", setup: []cmd{on(0, "HSET", "k", "f", "v"), on(0, "PEXPIREAT", "k", dayStr)}, change: []cmd{on(0, "PEXPIREAT", "k", dayPlus(250))},
		id: "k", reason: `ttl differs: 2[34]h[0-9.ms]+ vs 2[34]h[0-9.ms]+`},
	{name: "db 3 value", setup: []cmd{on(3, "SET", "k", "v")}, change: []cmd{on(3, "SET", "k", "w")}, id: "db3:k", reason: "value differs"},
	{name: "db 3 key deleted", setup: []cmd{on(3, "SET", "k", "v"), on(0, "SET", "k", "v")}, change: []cmd{on(3, "DEL", "k")}, id: "db3:k", reason: "missing on b"},
	{name: "db 3 key added", setup: []cmd{on(0, "SET", "k", "v")}, change: []cmd{on(3, "SET", "k", "v")}, id: "db3:k", reason: "missing on a", snapshot: "-"},
	{name: "stream last-delivered-id", setup: streamSetup, change: []cmd{on(0, "XGROUP", "SETID", "s", "g1", "3-1")},
		id: "s", reason: `stream group "g1" last-delivered-id 2-1 vs 3-1`},
	{name: "stream entries-read", setup: streamSetup, change: []cmd{on(0, "XGROUP", "SETID", "s", "g1", "2-1", "ENTRIESREAD", "1")},
		id: "s", reason: `stream group "g1" entries-read 2 vs 1`},
	{name: "stream consumer added", setup: streamSetup, change: []cmd{on(0, "XGROUP", "CREATECONSUMER", "s", "g1", "c2")},
		id: "s", reason: `stream group "g1" consumer "c2" missing on a`},
	{name: "stream pending entry acked", setup: streamSetup, change: []cmd{on(0, "XACK", "s", "g1", "1-1")},
		id: "s", reason: `stream group "g1" pending entries differ \(2 vs 1\)`},
	{name: "stream delivery count", setup: streamSetup, change: []cmd{on(0, "XCLAIM", "s", "g1", "c1", "0", "1-1")},
		id: "s", reason: `stream group "g1" pending entries differ \(2 vs 2\)`},
	{name: "stream group added", setup: streamSetup, change: []cmd{on(0, "XGROUP", "CREATE", "s", "g2", "$")},
		id: "s", reason: `stream group "g2" missing on a`},
	{name: "stream last id", setup: streamSetup, change: []cmd{on(0, "XSETID", "s", "9-0")}, id: "s", reason: "stream last-generated-id 3-1 vs 9-0"},
	{name: "stream entries-added", setup: streamSetup, change: []cmd{on(0, "XSETID", "s", "3-1", "ENTRIESADDED", "10")}, id: "s", reason: "stream entries-added 3 vs 10"},
	{name: "stream max-deleted-entry-id", setup: streamSetup, change: []cmd{on(0, "XSETID", "s", "3-1", "MAXDELETEDID", "3-0")},
		id: "s", reason: "stream max-deleted-entry-id 0-0 vs 3-0"},
	{name: "function library changed", setup: []cmd{on(0, "FUNCTION", "LOAD", libCode)},
		change: []cmd{on(0, "FUNCTION", "LOAD", "REPLACE", strings.Replace(libCode, "return 1", "return 2", 1))}, id: "function:lib", reason: "code differs"},
	{name: "function library deleted", setup: []cmd{on(0, "FUNCTION", "LOAD", libCode)}, change: []cmd{on(0, "FUNCTION", "DELETE", "lib")}, id: "function:lib", reason: "missing on b"},
	{name: "function library added", change: []cmd{on(0, "FUNCTION", "LOAD", libCode)}, id: "function:lib", reason: "missing on a"},
	{name: "acl key pattern", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "SETUSER", "app", "~other:*")},
		id: "acl:app", reason: `key patterns differ: ~app:\* vs ~app:\* ~other:\*`},
	{name: "acl read-only key pattern", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "SETUSER", "app", "resetkeys", "%R~app:*")},
		id: "acl:app", reason: `key patterns differ: ~app:\* vs %R~app:\*`},
	{name: "acl command rule", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "SETUSER", "app", "-get")},
		id: "acl:app", reason: `command rules differ: 1 allowed on a only \(get\)`},
	{name: "acl channel", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "SETUSER", "app", "&news")},
		id: "acl:app", reason: `channel patterns differ: \(none\) vs &news`},
	{name: "acl password", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "SETUSER", "app", ">other")},
		id: "acl:app", reason: "passwords differ"},
	{name: "acl disabled", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "SETUSER", "app", "off")},
		id: "acl:app", reason: "enabled vs disabled"},
	{name: "acl selector", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "SETUSER", "app", "(~x:* +get)")},
		id: "acl:app", reason: `selectors differ: 0 vs 1`},
	{name: "acl user added", change: []cmd{on(0, "ACL", "SETUSER", "extra", "on", ">pw")}, id: "acl:extra", reason: "missing on a"},
	{name: "acl user removed", setup: []cmd{on(0, "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")}, change: []cmd{on(0, "ACL", "DELUSER", "app")},
		id: "acl:app", reason: "missing on b"},
}

// fieldTTLProperties need hash field expiration: Redis 8.0.
var fieldTTLProperties = []property{
	{name: "hash field ttl value", setup: []cmd{on(0, "HSET", "h", "f1", "a", "f2", "b"), on(0, "HPEXPIREAT", "h", dayStr, "FIELDS", "1", "f1")},
		change: []cmd{on(0, "HPEXPIREAT", "h", dayPlus(1000), "FIELDS", "1", "f1")}, id: "h",
		reason: `hash field "f1" ttl differs: 2[34]h[0-9.ms]+ vs 24h0m[0-9.]+s`, snapshot: `hash field ttls differ \(1 vs 1 fields with a ttl\)`},
	{name: "hash field ttl added", setup: []cmd{on(0, "HSET", "h", "f1", "a", "f2", "b"), on(0, "HPEXPIREAT", "h", dayStr, "FIELDS", "1", "f1")},
		change: []cmd{on(0, "HPEXPIRE", "h", "100000", "FIELDS", "1", "f2")}, id: "h",
		reason: `hash field "f2" ttl missing on a`, snapshot: `hash field ttls differ \(1 vs 2 fields with a ttl\)`},
	{name: "hash field ttl removed", setup: []cmd{on(3, "HSET", "h", "f1", "a", "f2", "b"), on(3, "HPEXPIREAT", "h", dayStr, "FIELDS", "1", "f1")},
		change: []cmd{on(3, "HPERSIST", "h", "FIELDS", "1", "f1")}, id: "db3:h",
		reason: `hash field "f1" ttl missing on b`, snapshot: `hash field ttls differ \(1 vs 0 fields with a ttl\)`},
	{name: "hash field ttl on a big hash", setup: append(bigHash("h", 3000), on(0, "HPEXPIREAT", "h", dayStr, "FIELDS", "2", "f10", "f2999")),
		change: []cmd{on(0, "HPEXPIREAT", "h", dayStr, "FIELDS", "1", "f11")}, id: "h",
		reason: `hash field "f11" ttl missing on a`, snapshot: `hash field ttls differ \(2 vs 3 fields with a ttl\)`},
	{name: "hash field ttl in a db without any", setup: []cmd{on(0, "HSET", "h", "f1", "a", "f2", "b")},
		change: []cmd{on(0, "HPEXPIRE", "h", "100000", "FIELDS", "1", "f2")}, id: "h",
		reason: `hash field "f2" ttl missing on a`, snapshot: `hash field ttls differ \(0 vs 1 fields with a ttl\)`},
	{name: "hash value beside field ttls", setup: []cmd{on(0, "HSET", "h", "f1", "a", "f2", "b"), on(0, "HPEXPIREAT", "h", dayStr, "FIELDS", "1", "f1")},
		change: []cmd{on(0, "HSET", "h", "f2", "c")}, id: "h", reason: "value differs"},
}

// bigHash writes a hash of n fields f0..f<n-1>.
func bigHash(key string, n int) []cmd {
	args := []interface{}{"HSET", key}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
	}
	return []cmd{on(0, args...)}
}

// TestProperties sets up equal data on two servers, changes one property
// on b and expects Compare and the snapshot check (snapshot of a, checked
// on b) to name that key or object with the right reason, and nothing
// else.
func TestProperties(t *testing.T) {
	_, a := server(t, samePassword)
	_, b := server(t, samePassword)
	testProperties(t, a, b, properties)
}

// TestFieldTTLProperties is TestProperties for hash field TTLs, on Redis
// 8.0.
func TestFieldTTLProperties(t *testing.T) {
	a, b := startNode(t, "8.0"), startNode(t, "8.0")
	testProperties(t, a.c, b.c, fieldTTLProperties)
}

func testProperties(t *testing.T, a, b *redis.Client, props []property) {
	ctx := context.Background()
	for _, p := range props {
		t.Run(p.name, func(t *testing.T) {
			day := time.Now().Add(24 * time.Hour).UnixMilli()
			for _, c := range []*redis.Client{a, b} {
				reset(t, c)
				for _, s := range p.setup {
					doDB(t, c, s.db, expand(s.args, day)...)
				}
			}
			res, err := Compare(ctx, a, b, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Equal || len(res.Notes) > 0 {
				t.Fatalf("before the change: %+v, want equal without notes", res)
			}
			snap, err := TakeSnapshot(ctx, a, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p.change {
				doDB(t, b, s.db, expand(s.args, day)...)
			}

			res, err = Compare(ctx, a, b, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("compare: %v", res.Diffs)
			checkDiffs(t, res, map[string]string{p.id: p.reason})

			res, err = CheckSnapshot(ctx, b, snap, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("snapshot check: %v", res.Diffs)
			want := p.snapshot
			if want == "" {
				want = strings.NewReplacer("on a", "on snapshot", "on b", "on server").Replace(p.reason)
			}
			if want == "-" {
				checkDiffs(t, res, nil)
			} else {
				checkDiffs(t, res, map[string]string{p.id: want})
			}
			for _, d := range res.Diffs {
				if strings.Contains(d.String(), "#") || strings.Contains(d.String(), "pw") {
					t.Errorf("diff %s shows a password or its hash", d)
				}
			}
		})
	}
}

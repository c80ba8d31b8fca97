package live

import (
	"context"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps"
)

// readOnly lists the commands a dry run sends: reads of data and of server
// state, and connection setup. Everything else — writes, REPLICAOF, CONFIG
// SET, CLIENT PAUSE and KILL, FAILOVER, ACL SETUSER, FUNCTION LOAD, an
// unknown command — is not sent. Container commands are listed with their
// subcommand.
var readOnly = setOf(`
	ping echo info role select hello auth time lastsave dbsize wait quit readonly
	client|list client|info client|getname client|id client|setname client|setinfo client|maint_notifications
	config|get acl|list acl|getuser acl|users acl|whoami acl|cat
	function|list function|dump slowlog|get slowlog|len command|count command|info command|docs
	object|encoding object|freq object|idletime memory|usage xinfo|stream xinfo|groups xinfo|consumers
	scan keys exists type ttl pttl expiretime pexpiretime randomkey dump
	get mget strlen getrange substr getbit bitcount bitpos
	hget hmget hgetall hkeys hvals hlen hexists hstrlen hscan hrandfield httl hpttl hexpiretime hpexpiretime
	lrange llen lindex lpos
	smembers sscan scard sismember smismember srandmember sinter sunion sdiff
	zrange zrangebyscore zrevrange zrevrangebyscore zrangebylex zscan zcard zscore zmscore zrank zrevrank zcount zlexcount
	xrange xrevrange xlen xpending xread
	geopos geohash geodist geosearch georadius_ro georadiusbymember_ro
	`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// commandName is "name" or, for container commands, "name|sub", lower case.
func commandName(args []any) string {
	if len(args) == 0 {
		return ""
	}
	name := strings.ToLower(toString(args[0]))
	if len(args) > 1 {
		switch name {
		case "client", "config", "acl", "function", "slowlog", "command", "object", "memory", "xinfo", "debug", "script", "cluster", "latency", "module":
			return name + "|" + strings.ToLower(toString(args[1]))
		}
	}
	return name
}

func toString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// dryRunHook lets read-only commands through and answers every other
// command with a steps.NotSent, sending nothing. A pipeline or transaction
// with one such command is not sent at all.
type dryRunHook struct {
	node   string
	record func(*steps.NotSent)
}

func (h *dryRunHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *dryRunHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if err := h.check(cmd); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *dryRunHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			if err := h.check(cmd); err != nil {
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		return next(ctx, cmds)
	}
}

func (h *dryRunHook) check(cmd goredis.Cmder) error {
	name := commandName(cmd.Args())
	if readOnly[name] || name == "multi" || name == "exec" || name == "discard" {
		return nil
	}
	ns := &steps.NotSent{Target: "node " + h.node, What: steps.CommandText(cmd.Args())}
	if h.record != nil {
		h.record(ns)
	}
	return ns
}

// DryRun makes the topology send nothing but reads from now on: every
// other command to a node, the endpoints' switch commands and the nodes'
// lifecycle commands are answered with a steps.NotSent, which record
// hears first (nil: not recorded). Clients created before are closed (a
// step asks for new ones); call it before the first Endpoint.
func (t *Topology) DryRun(record func(*steps.NotSent)) {
	if record == nil {
		record = func(*steps.NotSent) {}
	}
	t.clients.Close()
	t.dryRun = record
	t.clients.Hook = func(node string) goredis.Hook { return &dryRunHook{node: node, record: record} }
}

package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	rv "github.com/understudy/understudy/steps/redis"
)

// serverCaps is what the seeded server offers beyond Redis 6.0, told from
// its version (INFO server).
type serverCaps struct {
	version rv.Version
	// functions: FUNCTION LOAD, Redis 7.0+ and every Valkey.
	functions bool
	// hashFieldTTL: HPEXPIRE, Redis 7.4+ and Valkey 9.0+.
	hashFieldTTL bool
	// aclChannels: ACL pub/sub channel rules (&pattern), 6.2+.
	aclChannels bool
}

// String is the engine and version as the summary names them: "Redis
// 7.0.15", "Valkey 8.1.1".
func (s serverCaps) String() string {
	if s.version.Engine == rv.EngineValkey {
		return "Valkey " + strings.TrimPrefix(s.version.String(), "valkey:")
	}
	return "Redis " + s.version.String()
}

func probeServer(ctx context.Context, c *redis.Client) (serverCaps, error) {
	info, err := rv.ReadInfo(ctx, c, "server")
	if err != nil {
		return serverCaps{}, fmt.Errorf("read the server version: %w", err)
	}
	v, err := rv.VersionFromInfo(info)
	if err != nil {
		return serverCaps{}, err
	}
	s := serverCaps{version: v, functions: v.AtLeast(7, 0), aclChannels: v.AtLeast(6, 2)}
	if v.Engine == rv.EngineValkey {
		s.hashFieldTTL = v.Major >= 9
	} else {
		s.hashFieldTTL = v.AtLeast(7, 4)
	}
	return s, nil
}

// dbWriter holds a client and a pipeline per database. Full pipelines are
// sent by one goroutine per database, in order, while the next batch is
// generated: at most two batches per database wait to be sent.
type dbWriter struct {
	ctx      context.Context
	c        *redis.Client
	dbs      map[int]*dbSink
	order    []int
	senders  sync.WaitGroup // the goroutines
	inFlight sync.WaitGroup // pipelines handed over and not yet answered

	mu  sync.Mutex
	err error // the first failure
}

type dbSink struct {
	client *redis.Client
	pipe   redis.Pipeliner
	queue  chan redis.Pipeliner
}

func newDBWriter(ctx context.Context, c *redis.Client) *dbWriter {
	return &dbWriter{ctx: ctx, c: c, dbs: make(map[int]*dbSink)}
}

// sink returns the client and pipeline of database db, starting its
// sender. The client is c itself when c is configured for db, otherwise a
// new client with c's options and db: selecting the database on a pooled
// connection of c instead would leave that connection on the wrong
// database for c's other users.
func (w *dbWriter) sink(db int) *dbSink {
	if s, ok := w.dbs[db]; ok {
		return s
	}
	cl := w.c
	if w.c.Options().DB != db {
		opt := *w.c.Options()
		opt.DB = db
		// Per-client state that NewClient fills in and that must not be
		// shared with c.
		opt.PushNotificationProcessor = nil
		opt.MaintNotificationsConfig = nil
		opt.ClientSideCache = nil
		opt.ClientSideCacheConfig = nil
		cl = redis.NewClient(&opt)
	}
	s := &dbSink{client: cl, pipe: cl.Pipeline(), queue: make(chan redis.Pipeliner, 1)}
	w.dbs[db] = s
	w.order = append(w.order, db)
	w.senders.Add(1)
	go func() {
		defer w.senders.Done()
		for p := range s.queue {
			if w.error() == nil {
				if cmds, err := p.Exec(w.ctx); err != nil {
					w.fail(fmt.Errorf("db %d: %w", db, pipelineError(cmds, err)))
				}
			}
			w.inFlight.Done()
		}
	}()
	return s
}

// client returns the client of database db.
func (w *dbWriter) client(db int) *redis.Client { return w.sink(db).client }

// pipe returns the pipeline of database db being filled.
func (w *dbWriter) pipe(db int) redis.Pipeliner { return w.sink(db).pipe }

// send hands db's pipeline to its sender and starts a new one. It returns
// the first failure of any database so far.
func (w *dbWriter) send(db int) error {
	s := w.sink(db)
	if err := w.error(); err != nil || s.pipe.Len() == 0 {
		return err
	}
	w.inFlight.Add(1)
	select {
	case s.queue <- s.pipe:
	case <-w.ctx.Done():
		w.inFlight.Done()
		return w.ctx.Err()
	}
	s.pipe = s.client.Pipeline()
	return nil
}

// wait sends what is queued, waits until every database's commands are
// answered and returns the first failure.
func (w *dbWriter) wait() error {
	for _, db := range w.order {
		if err := w.send(db); err != nil {
			break
		}
	}
	w.inFlight.Wait()
	return w.error()
}

// close stops the senders after what they hold and closes the clients the
// writer opened.
func (w *dbWriter) close() {
	for _, s := range w.dbs {
		close(s.queue)
	}
	w.senders.Wait()
	for _, s := range w.dbs {
		if s.client != w.c {
			_ = s.client.Close()
		}
	}
}

func (w *dbWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *dbWriter) error() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// pipelineError names the first command of a pipeline that failed.
func pipelineError(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if c.Err() != nil {
			args := c.Args()
			if len(args) > 2 {
				args = args[:2]
			}
			return fmt.Errorf("%v: %w", args, c.Err())
		}
	}
	return err
}

// Seed's function library and ACL user.
const (
	seedLibrary = "understudy_seed"
	seedACLUser = "understudy-seed-app"
)

// seedFunctions are the functions of the library, the first read-only.
var seedFunctions = []string{"understudy_seed_get", "understudy_seed_incr", "understudy_seed_hset"}

// seedLibraryCode is the library: one function flagged no-writes, two that
// write. Valkey keeps the redis.* API.
const seedLibraryCode = `#!lua name=understudy_seed
-- Loaded by understudy's seed, to check that functions survive an upgrade.
redis.register_function{
  function_name = 'understudy_seed_get',
  callback = function(keys, args) return redis.call('GET', keys[1]) end,
  flags = { 'no-writes' },
}
redis.register_function('understudy_seed_incr', function(keys, args)
  return redis.call('INCRBY', keys[1], tonumber(args[1] or '1'))
end)
redis.register_function('understudy_seed_hset', function(keys, args)
  return redis.call('HSET', keys[1], args[1], args[2])
end)
`

// seedServerObjects loads the function library and creates the ACL user,
// each when selected and where the server has it.
func seedServerObjects(ctx context.Context, c *redis.Client, p seedPlan, srv serverCaps, sum *SeedSummary) error {
	if p.want[kindFunction] {
		if srv.functions {
			if err := c.Do(ctx, "FUNCTION", "LOAD", "REPLACE", seedLibraryCode).Err(); err != nil {
				return fmt.Errorf("load function library %s: %w", seedLibrary, err)
			}
			for _, f := range seedFunctions {
				sum.Functions = append(sum.Functions, seedLibrary+"."+f)
			}
			sum.Bytes += int64(len(seedLibraryCode))
		} else {
			sum.Skipped = append(sum.Skipped, "functions (Redis 7.0+, Valkey)")
		}
	}
	if p.want[kindACLUser] {
		args := seedACLRules(p, srv)
		if err := c.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("create ACL user %s: %w", seedACLUser, err)
		}
		sum.ACLUsers = append(sum.ACLUsers, seedACLUser)
		if !srv.aclChannels {
			sum.Skipped = append(sum.Skipped, "ACL channel rules (6.2+)")
		}
	}
	return nil
}

// seedACLRules is the ACL SETUSER command of the seed's user: an
// application's user limited to the seeded keys (and, from 6.2, channels),
// allowed to read, write and use pub/sub but no dangerous command. Its password is sent
// only as its SHA-256, so it appears nowhere in clear text.
func seedACLRules(p seedPlan, srv serverCaps) []interface{} {
	h := sha256.Sum256([]byte(seedACLPassword(p.Seed)))
	args := []interface{}{"ACL", "SETUSER", seedACLUser, "reset", "on", "#" + hex.EncodeToString(h[:]), "~" + p.Prefix + "*"}
	if srv.aclChannels {
		args = append(args, "resetchannels", "&"+p.Prefix+"*")
	}
	return append(args, "+@read", "+@write", "+@pubsub", "-@dangerous")
}

// seedACLPassword is the password of the seed's user: 64 hex characters
// drawn from the seed, so that reseeding gives the same user.
func seedACLPassword(seed int64) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x61636c))
	var pw [32]byte
	for i := range pw {
		pw[i] = byte(rng.UintN(256))
	}
	return hex.EncodeToString(pw[:])
}

// Package clientmix is an application's mix of Redis clients for tests and
// the bench, run through an endpoint while a switchover happens behind it:
//
//   - a job queue: consumers waiting in BLPOP list 0 and a producer pushing
//     (package jobqueue);
//   - a stream: a consumer in XREAD BLOCK 0 while a producer XADDs;
//   - pub/sub: a RESP2 and a RESP3 subscriber, each on a channel (SUBSCRIBE)
//     and a pattern (PSUBSCRIBE) that matches it, while a publisher publishes
//     numbered messages;
//   - transactions: MULTI / INCR counter / RPUSH list n / EXEC in a loop;
//   - redis-benchmark with -P 16 (Debian's redis-tools), run after run;
//   - a RESP3 client (go-redis with Protocol 3) writing strings and a hash
//     and reading its writes back at once.
//
// Every client is a go-redis client with default retries, as applications
// use, except redis-benchmark, which gives up (exit 1) on the first error
// reply or closed connection. Every loop is bounded in count and time. Stop
// ends the mix and checks, on the server behind the endpoint (the final
// master after a switchover), that no acknowledged push, stream entry,
// transaction or write is missing, duplicated or half applied; pub/sub,
// which is at-most-once, is measured and not judged by loss.
package clientmix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/jobqueue"
)

// Options say where the mix runs and how hard.
type Options struct {
	Addr, Password string
	// DB is the database of every client but the job queue's (db 0).
	// Default 0, where applications write; but a runbook's verify steps
	// compare db 0 under live writes, and a key written every few
	// milliseconds (the transactions' counter) can differ in each of
	// their rechecks: the e2e and the bench use another database.
	DB int
	// Prefix starts every key and channel of the mix (default "clientmix:").
	// redis-benchmark's keys are its own: key:<12 digits> (SET and GET).
	Prefix string
	// Interval is the pause between two operations of each loop: a push, an
	// XADD, a PUBLISH, a transaction, a RESP3 round (default 5 ms).
	Interval time.Duration
	// MaxOps bounds the operations of each loop (default 100 000).
	MaxOps int
	// MaxDuration bounds the whole mix (default 10 min): the loops stop by
	// themselves after it.
	MaxDuration time.Duration
	// Bench configures the redis-benchmark runs.
	Bench Bench
}

// Bench configures redis-benchmark: runs one after the other, each
// redis-benchmark -h H -p P -a PASSWORD -c Clients -P Pipeline -n Requests
// -t Tests -r Keyspace --csv.
type Bench struct {
	// Disabled leaves redis-benchmark out of the mix.
	Disabled bool
	// Path of the program (default "redis-benchmark" on the PATH).
	Path string
	// Clients, Pipeline, Requests (per test) and Tests are -c, -P, -n and
	// -t (defaults 2, 16, 100 000, "set,get": a run lasts a few seconds;
	// Stop kills the run in progress).
	Clients, Pipeline, Requests int
	Tests                       string
	// Keyspace is -r (default 10 000): the keys key:000000000000 to
	// key:000000009999, whose values do not change (SET writes the same
	// value), so a comparison of the nodes under live writes is not
	// disturbed by them.
	Keyspace int
	// Gap is the pause between two runs (default none).
	Gap time.Duration
	// MaxRuns bounds the runs (default 1 000); each run is bounded by one
	// minute.
	MaxRuns int
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "clientmix:"
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Millisecond
	}
	if o.MaxOps <= 0 {
		o.MaxOps = 100_000
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 10 * time.Minute
	}
	b := &o.Bench
	if b.Path == "" {
		b.Path = "redis-benchmark"
	}
	if b.Clients <= 0 {
		b.Clients = 2
	}
	if b.Pipeline <= 0 {
		b.Pipeline = 16
	}
	if b.Requests <= 0 {
		b.Requests = 100_000
	}
	if b.Tests == "" {
		b.Tests = "set,get"
	}
	if b.Keyspace <= 0 {
		b.Keyspace = 10_000
	}
	if b.MaxRuns <= 0 {
		b.MaxRuns = 1000
	}
	return o
}

// opTimeout bounds one operation of a loop; the go-redis client retries
// within it.
const opTimeout = 5 * time.Second

// Mix is a running client mix.
type Mix struct {
	o        Options
	ctx      context.Context // ends after MaxDuration, or when Stop cancels it
	cancel   context.CancelFunc
	stopping chan struct{} // closed by Stop: producers stop
	loops    sync.WaitGroup
	check    *goredis.Client // Stop's own checks, through the endpoint
	clients  []interface{ Close() error }

	jobs   *jobqueue.Queue
	stream *stream
	subs   []*subscriber
	pub    *publisher
	tx     *txLoop
	resp3  *resp3Loop
	bench  *benchLoop
}

// Start starts every client of the mix against o.Addr. It returns an error
// only when redis-benchmark cannot be found; failures of the clients are in
// the Result.
func Start(ctx context.Context, o Options) (*Mix, error) {
	o = o.withDefaults()
	m := &Mix{o: o, stopping: make(chan struct{})}
	if !o.Bench.Disabled {
		b, err := newBenchLoop(o)
		if err != nil {
			return nil, err
		}
		m.bench, b.m = b, m
	}
	m.ctx, m.cancel = context.WithTimeout(context.WithoutCancel(ctx), o.MaxDuration)
	m.check = m.client(2)

	m.jobs = jobqueue.Start(o.Addr, o.Password, o.Prefix+"jobs", 2, o.Interval)
	m.stream = &stream{m: m, key: o.Prefix + "events", producer: m.client(2), consumer: m.client(2)}
	m.loops.Go(m.stream.produce)
	m.stream.consuming.Go(m.stream.consume)

	channel := o.Prefix + "news"
	for _, proto := range []int{2, 3} {
		s := &subscriber{m: m, protocol: proto, channel: channel, pattern: o.Prefix + "ne*",
			client: m.client(proto), seen: map[string]map[int]int{}}
		m.subs = append(m.subs, s)
		s.start()
	}
	m.pub = &publisher{m: m, channel: channel, client: m.client(2)}
	m.loops.Go(m.pub.run)

	m.tx = &txLoop{m: m, counter: o.Prefix + "tx:counter", list: o.Prefix + "tx:list", client: m.client(2)}
	m.loops.Go(m.tx.run)
	m.resp3 = &resp3Loop{m: m, prefix: o.Prefix + "resp3:", client: m.client(3)}
	m.loops.Go(m.resp3.run)
	if m.bench != nil {
		m.loops.Go(m.bench.run)
	}
	return m, nil
}

// client returns a go-redis client with default options and the given
// protocol, closed by Stop.
func (m *Mix) client(protocol int) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: m.o.Addr, Password: m.o.Password, DB: m.o.DB, Protocol: protocol})
	m.clients = append(m.clients, c)
	return c
}

// running reports whether the loops should go on, waiting interval first.
func (m *Mix) wait() bool {
	select {
	case <-m.stopping:
		return false
	case <-m.ctx.Done():
		return false
	case <-time.After(m.o.Interval):
		return true
	}
}

func (m *Mix) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(m.ctx), opTimeout)
}

// Progress is what the mix has done so far, for a caller that wants to see
// it active across an event (the switchover).
type Progress struct {
	StreamAdded, Published, Received, Transactions, RESP3Writes int
	BenchRun                                                    int  // runs started
	BenchRunning                                                bool // a run is in progress
}

// Progress reads the counters.
func (m *Mix) Progress() Progress {
	p := Progress{StreamAdded: m.stream.added(), Published: m.pub.count(), Transactions: m.tx.count(), RESP3Writes: m.resp3.count()}
	for _, s := range m.subs {
		p.Received += s.count()
	}
	if m.bench != nil {
		p.BenchRun, p.BenchRunning = m.bench.progress()
	}
	return p
}

// Stop stops the producers, kills a redis-benchmark run in progress, lets
// the consumers and subscribers take what is left, checks the data on the
// server behind the endpoint and closes every client. It returns within
// about 15 s (a few milliseconds when the server answers).
func (m *Mix) Stop() Result {
	close(m.stopping)
	m.loops.Wait() // a redis-benchmark run in progress is killed
	var r Result
	var wg sync.WaitGroup
	wg.Go(func() {
		jr, err := m.jobs.Finish()
		r.Jobs = JobsResult{Result: jr}
		if err != nil {
			r.Jobs.Err = err.Error()
		}
	})
	wg.Go(func() { r.Stream = m.stream.finish() })
	wg.Go(func() { r.PubSub = m.finishPubSub() })
	wg.Go(func() { r.Tx = m.tx.finish(m.check) })
	wg.Go(func() { r.RESP3 = m.resp3.finish(m.check) })
	wg.Wait()
	if m.bench != nil {
		r.Bench = m.bench.result()
	} else {
		r.Bench.Disabled = true
	}
	m.cancel()
	for _, c := range m.clients {
		_ = c.Close()
	}
	return r
}

// BenchRuns returns the redis-benchmark runs so far.
func (m *Mix) BenchRuns() []BenchRun {
	if m.bench == nil {
		return nil
	}
	return m.bench.runSpans()
}

// finishPubSub publishes "end" until every subscriber got it on both its
// subscriptions (a subscriber that reconnects may miss some), then ends
// the subscribers.
func (m *Mix) finishPubSub() PubSubResult {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, s := range m.subs {
			done = done && s.ended()
		}
		if done {
			break
		}
		ctx, cancel := m.opContext()
		err := m.pub.client.Publish(ctx, m.pub.channel, "end").Err()
		cancel()
		if err != nil {
			m.pub.errors++
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	published := m.pub.sent()
	res := PubSubResult{Published: len(published), PublishErrors: m.pub.errors, Partial: m.pub.partial}
	for _, s := range m.subs {
		res.Subscribers = append(res.Subscribers, s.finish(published)...)
	}
	return res
}

// Result is how every client of the mix went.
type Result struct {
	Jobs   JobsResult   `json:"jobs"`
	Stream StreamResult `json:"stream"`
	PubSub PubSubResult `json:"pubsub"`
	Tx     TxResult     `json:"transactions"`
	RESP3  RESP3Result  `json:"resp3"`
	Bench  BenchResult  `json:"redis_benchmark"`
}

// JobsResult is the job queue's count: acknowledged pushes, distinct jobs
// popped, pushes never popped, jobs popped twice.
type JobsResult struct {
	jobqueue.Result
	Err string `json:"error,omitempty"` // a client error, or jobs missing or popped twice
}

// Err returns every check that failed: a client error, a push, stream
// entry or write missing or duplicated, a transaction half applied, a
// failed redis-benchmark run, a subscriber that did not come back or
// received a message twice or one that was never published. Messages a
// subscriber missed are not failures (pub/sub is at-most-once).
func (r Result) Err() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.Jobs.Err != "" {
		add("jobs: %s", r.Jobs.Err)
	}
	if s := r.Stream; s.Missing > 0 || s.Twice > 0 || s.Errors > 0 || s.Err != "" {
		add("stream: %s", s)
	}
	for _, s := range r.PubSub.Subscribers {
		if !s.Ended || s.Duplicates > 0 || s.Unknown > 0 || s.Err != "" {
			add("pub/sub %s: %s", s.Name, s)
		}
	}
	if r.PubSub.PublishErrors > 0 {
		add("pub/sub: %d PUBLISH errors", r.PubSub.PublishErrors)
	}
	if !r.Tx.Whole() {
		add("transactions: %s", r.Tx)
	}
	if s := r.RESP3; s.Missing > 0 || s.BadReads > 0 || s.Errors > 0 || s.Err != "" {
		add("RESP3: %s", s)
	}
	if b := r.Bench; !b.Disabled && (b.Runs == 0 || b.Failed > 0) {
		add("redis-benchmark: %s", b)
	}
	return errors.Join(errs...)
}

// String is a one-line summary per client, separated by "; ".
func (r Result) String() string {
	parts := []string{
		"jobs " + r.Jobs.String(),
		"stream " + r.Stream.String(),
		"transactions " + r.Tx.String(),
		"pub/sub " + r.PubSub.String(),
		"RESP3 " + r.RESP3.String(),
		"redis-benchmark " + r.Bench.String(),
	}
	return strings.Join(parts, "; ")
}

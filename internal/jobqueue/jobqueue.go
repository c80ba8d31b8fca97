// Package jobqueue is an application's job queue for tests and the bench:
// a producer pushes numbered jobs onto a list and consumers wait for them in
// BLPOP list 0, as Sidekiq, Celery or Bull workers do, each with its own
// go-redis client (default retries) through an endpoint. Finish tells
// whether every acknowledged push was popped exactly once.
package jobqueue

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Queue is one running job queue.
type Queue struct {
	key       string
	producer  *goredis.Client
	consumers []*goredis.Client
	stop      chan struct{}
	pushing   sync.WaitGroup
	popping   sync.WaitGroup

	mu     sync.Mutex
	pushed []string
	popped map[string]int
	errs   []error
}

// Start starts n consumers in BLPOP key 0 and a producer pushing a job every
// interval, at addr with password, for at most 100 000 jobs.
func Start(addr, password, key string, n int, interval time.Duration) *Queue {
	opts := func() *goredis.Options { return &goredis.Options{Addr: addr, Password: password} }
	q := &Queue{key: key, producer: goredis.NewClient(opts()), stop: make(chan struct{}), popped: map[string]int{}}
	for range n {
		c := goredis.NewClient(opts())
		q.consumers = append(q.consumers, c)
		q.popping.Go(func() { q.consume(c) })
	}
	q.pushing.Go(func() { q.produce(interval) })
	return q
}

func (q *Queue) consume(c *goredis.Client) {
	for {
		kv, err := c.BLPop(context.Background(), 0, q.key).Result()
		q.mu.Lock()
		switch {
		case err != nil:
			q.errs = append(q.errs, fmt.Errorf("BLPOP: %w", err))
		case kv[1] != "stop":
			q.popped[kv[1]]++
		}
		q.mu.Unlock()
		if err != nil || kv[1] == "stop" {
			return
		}
	}
}

func (q *Queue) produce(interval time.Duration) {
	for i := 0; i < 100_000; i++ {
		select {
		case <-q.stop:
			return
		case <-time.After(interval):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v := fmt.Sprintf("job-%d", i)
		err := q.producer.RPush(ctx, q.key, v).Err()
		cancel()
		q.mu.Lock()
		if err != nil {
			q.errs = append(q.errs, fmt.Errorf("RPUSH: %w", err))
		} else {
			q.pushed = append(q.pushed, v)
		}
		q.mu.Unlock()
	}
}

// Result is how the queue went.
type Result struct {
	Pushed, Popped int // acknowledged pushes; distinct jobs popped
	Missing, Twice int // acknowledged pushes never popped; popped more than once
}

func (r Result) String() string {
	return fmt.Sprintf("%d pushed, %d popped, %d missing, %d popped twice", r.Pushed, r.Popped, r.Missing, r.Twice)
}

// Finish stops the producer, ends the consumers with one "stop" job each,
// closes the clients and counts. The error is a client error or a job
// missing or popped twice.
func (q *Queue) Finish() (Result, error) {
	close(q.stop)
	q.pushing.Wait()
	defer q.close()
	for range q.consumers {
		if err := q.producer.RPush(context.Background(), q.key, "stop").Err(); err != nil {
			return Result{}, fmt.Errorf("RPUSH stop: %w", err)
		}
	}
	done := make(chan struct{})
	go func() { q.popping.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return Result{}, fmt.Errorf("the consumers did not finish")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	r := Result{Pushed: len(q.pushed), Popped: len(q.popped)}
	for _, v := range q.pushed {
		switch q.popped[v] {
		case 0:
			r.Missing++
		case 1:
		default:
			r.Twice++
		}
	}
	switch {
	case len(q.errs) > 0:
		return r, fmt.Errorf("job queue errors: %v", q.errs)
	case r.Missing > 0 || r.Twice > 0:
		return r, fmt.Errorf("job queue: %s", r)
	}
	return r, nil
}

func (q *Queue) close() {
	_ = q.producer.Close()
	for _, c := range q.consumers {
		_ = c.Close()
	}
}

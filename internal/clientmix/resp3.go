package clientmix

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// resp3Loop is a RESP3 client (HELLO 3): each round SETs a new key, reads
// it back, sets a field of a small hash and reads the whole hash back (a
// RESP3 map), expecting its own writes.
type resp3Loop struct {
	m      *Mix
	prefix string
	client *goredis.Client

	mu       sync.Mutex
	acked    int // keys prefix0 .. prefix(acked-1) acknowledged
	reads    int
	badReads int // a read that did not return the client's own write
	errors   int
	lastErr  error
}

const resp3Fields = 16

func (r *resp3Loop) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked
}

func (r *resp3Loop) fail(err error) {
	r.mu.Lock()
	r.errors++
	r.lastErr = err
	r.mu.Unlock()
}

func (r *resp3Loop) run() {
	hash := r.prefix + "hash"
	i := 0
	for n := 0; n < r.m.o.MaxOps && r.m.wait(); n++ {
		ctx, cancel := r.m.opContext()
		err := r.round(ctx, hash, i)
		cancel()
		if err != nil {
			r.fail(err)
			continue // the same key again: the keys stay 0 .. acked-1
		}
		i++
	}
}

func (r *resp3Loop) round(ctx context.Context, hash string, i int) error {
	key, val := r.prefix+strconv.Itoa(i), "v"+strconv.Itoa(i)
	if err := r.client.Set(ctx, key, val, 0).Err(); err != nil {
		return fmt.Errorf("SET: %w", err)
	}
	r.mu.Lock()
	r.acked = i + 1
	r.mu.Unlock()
	got, err := r.client.Get(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("GET: %w", err)
	}
	field := strconv.Itoa(i % resp3Fields)
	if err := r.client.HSet(ctx, hash, field, val).Err(); err != nil {
		return fmt.Errorf("HSET: %w", err)
	}
	all, err := r.client.HGetAll(ctx, hash).Result()
	if err != nil {
		return fmt.Errorf("HGETALL: %w", err)
	}
	r.mu.Lock()
	r.reads += 2
	if got != val {
		r.badReads++
	}
	if all[field] != val {
		r.badReads++
	}
	r.mu.Unlock()
	return nil
}

// finish reads every acknowledged key on the server behind the endpoint.
func (r *resp3Loop) finish(c *goredis.Client) RESP3Result {
	r.mu.Lock()
	res := RESP3Result{Writes: r.acked, Reads: r.reads, BadReads: r.badReads, Errors: r.errors}
	if r.lastErr != nil {
		res.Err = r.lastErr.Error()
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 4*opTimeout)
	defer cancel()
	for from := 0; from < res.Writes; from += 500 {
		keys := make([]string, 0, 500)
		for i := from; i < min(from+500, res.Writes); i++ {
			keys = append(keys, r.prefix+strconv.Itoa(i))
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			res.Err = fmt.Sprintf("MGET: %v", err)
			return res
		}
		for i, v := range vals {
			if v != "v"+strconv.Itoa(from+i) {
				res.Missing++
			}
		}
	}
	return res
}

// RESP3Result is the RESP3 client's account.
type RESP3Result struct {
	Writes   int    `json:"writes"`    // acknowledged SETs
	Missing  int    `json:"missing"`   // of those, keys missing or different on the final master
	Reads    int    `json:"reads"`     // GET and HGETALL of its own writes
	BadReads int    `json:"bad_reads"` // reads that did not return the write just acknowledged
	Errors   int    `json:"errors"`
	Err      string `json:"error,omitempty"`
}

func (r RESP3Result) String() string {
	s := fmt.Sprintf("%d writes, %d missing, %d reads, %d stale", r.Writes, r.Missing, r.Reads, r.BadReads)
	if r.Errors > 0 || r.Err != "" {
		s += fmt.Sprintf(", %d errors (%s)", r.Errors, r.Err)
	}
	return s
}

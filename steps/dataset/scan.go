package dataset

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// batchSize is the number of keys read per batch; SCAN COUNT hint.
const batchSize = 1000

// keyScanner walks one database with SCAN and hands out batches of keys that
// no Exclude pattern matches. SCAN may return a key more than once; the
// scanner remembers a 128-bit hash of every key to hand each out once.
type keyScanner struct {
	c       *redis.Client
	label   string // for errors, e.g. "scan a"
	match   string // SCAN MATCH pattern; "" for every key
	exclude []string
	seen    *elemSet
	n       int64 // keys handed out
}

func newKeyScanner(c *redis.Client, label string, o CompareOptions) *keyScanner {
	return &keyScanner{c: c, label: label, match: o.Match, exclude: o.Exclude, seen: newElemSet()}
}

// each calls fn with successive batches of unique, not excluded keys until
// SCAN is done or fn fails. fn must not keep the slice.
func (s *keyScanner) each(ctx context.Context, fn func(keys []string) error) error {
	var cursor uint64
	batch := make([]string, 0, batchSize)
	for {
		keys, next, err := s.c.Scan(ctx, cursor, s.match, batchSize).Result()
		if err != nil {
			return fmt.Errorf("%s: %w", s.label, err)
		}
		for _, k := range keys {
			if excluded(k, s.exclude) || s.seen.dup(k) {
				continue
			}
			batch = append(batch, k)
			s.n++
		}
		if len(batch) >= batchSize || (next == 0 && len(batch) > 0) {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// excluded reports whether key matches one of the glob patterns.
func excluded(key string, patterns []string) bool {
	for _, p := range patterns {
		if matchGlob(p, key) {
			return true
		}
	}
	return false
}

package traffic

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

const (
	verifyBatch    = 500 // keys per MGET
	verifyPipeline = 20  // MGETs per round trip
	maxLostSamples = 10
)

// Verify reads back every acknowledged write from final, the node that is
// master at the end, in pipelined MGET batches, and sets r.Lost to the number
// of acknowledged writes that are missing or hold another value, with the
// first few of their keys in r.LostSamples. Call it after Stop, with Stop's
// report; it can be called again.
func (w *Writer) Verify(ctx context.Context, final *redis.Client, r *Report) error {
	return w.verify(r, "verify", func(keys []string) ([]any, error) {
		pipe := final.Pipeline()
		var cmds []*redis.SliceCmd
		for i := 0; i < len(keys); i += verifyBatch {
			cmds = append(cmds, pipe.MGet(ctx, keys[i:min(i+verifyBatch, len(keys))]...))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
		var vals []any
		for _, cmd := range cmds {
			vals = append(vals, cmd.Val()...)
		}
		return vals, nil
	})
}

// verify walks the ledger in batches of keys, reads each batch's values
// with read (nil or a non-string for a missing key) and counts the
// acknowledged writes that are missing or hold another value into r.
func (w *Writer) verify(r *Report, what string, read func(keys []string) ([]any, error)) error {
	r.Verified = false
	var lost int64
	var samples []string
	seqs := make([]int64, 0, verifyBatch*verifyPipeline)
	check := func() error {
		if len(seqs) == 0 {
			return nil
		}
		keys := make([]string, len(seqs))
		for i, seq := range seqs {
			keys[i] = w.Key(seq)
		}
		vals, err := read(keys)
		if err != nil {
			return fmt.Errorf("traffic: %s: read back: %w", what, err)
		}
		for i, seq := range seqs {
			if s, ok := vals[i].(string); ok && s == w.value(seq) {
				continue
			}
			lost++
			if len(samples) < maxLostSamples {
				samples = append(samples, keys[i])
			}
		}
		seqs = seqs[:0]
		return nil
	}
	var err error
	w.ledger.each(func(seq int64) bool {
		seqs = append(seqs, seq)
		if len(seqs) == cap(seqs) {
			err = check()
		}
		return err == nil
	})
	if err == nil {
		err = check()
	}
	if err != nil {
		return err
	}
	if n := w.ledger.len(); n != r.Acked {
		return fmt.Errorf("traffic: %s: ledger holds %d writes, report says %d acknowledged", what, n, r.Acked)
	}
	r.Lost, r.LostSamples, r.Verified = lost, samples, true
	return nil
}

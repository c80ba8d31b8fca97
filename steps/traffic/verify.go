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
	r.Verified = false
	var lost int64
	var samples []string
	seqs := make([]int64, 0, verifyBatch*verifyPipeline)
	check := func() error {
		if len(seqs) == 0 {
			return nil
		}
		pipe := final.Pipeline()
		var cmds []*redis.SliceCmd
		for i := 0; i < len(seqs); i += verifyBatch {
			batch := seqs[i:min(i+verifyBatch, len(seqs))]
			keys := make([]string, len(batch))
			for j, seq := range batch {
				keys[j] = w.Key(seq)
			}
			cmds = append(cmds, pipe.MGet(ctx, keys...))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("traffic: verify: read back: %w", err)
		}
		for i, cmd := range cmds {
			for j, v := range cmd.Val() {
				seq := seqs[i*verifyBatch+j]
				if s, ok := v.(string); ok && s == w.value(seq) {
					continue
				}
				lost++
				if len(samples) < maxLostSamples {
					samples = append(samples, w.Key(seq))
				}
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
		return fmt.Errorf("traffic: verify: ledger holds %d writes, report says %d acknowledged", n, r.Acked)
	}
	r.Lost, r.LostSamples, r.Verified = lost, samples, true
	return nil
}

package clientmix

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// txLoop runs MULTI / INCR counter / RPUSH list n / EXEC, where n is the
// number of transactions acknowledged so far plus one: applied whole and
// once each, they leave counter == LLEN list == n and the list 1..n.
type txLoop struct {
	m             *Mix
	counter, list string
	client        *goredis.Client

	mu        sync.Mutex
	acked     int // transactions acknowledged: the list must hold 1..acked
	errors    int // EXEC errors (the transaction may or may not have run)
	mismatch  int // EXECs whose INCR did not return n
	ambiguous int // errors after which the counter showed the transaction had run
	lastErr   error
}

func (t *txLoop) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acked
}

func (t *txLoop) run() {
	for i := 0; i < t.m.o.MaxOps && t.m.wait(); i++ {
		t.mu.Lock()
		n := t.acked + 1
		t.mu.Unlock()
		ctx, cancel := t.m.opContext()
		var incr *goredis.IntCmd
		_, err := t.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			incr = pipe.Incr(ctx, t.counter)
			pipe.RPush(ctx, t.list, n)
			return nil
		})
		if err != nil {
			// The reply was lost: the transaction ran whole or not at
			// all. The counter tells which (this loop is its only writer).
			got, gerr := t.client.Get(ctx, t.counter).Int()
			cancel()
			t.mu.Lock()
			t.errors++
			t.lastErr = fmt.Errorf("MULTI/EXEC: %w", err)
			if gerr == nil && got == n {
				t.ambiguous++
				t.acked = n
			}
			t.mu.Unlock()
			continue
		}
		cancel()
		t.mu.Lock()
		if incr.Val() != int64(n) {
			t.mismatch++
		}
		t.acked = n
		t.mu.Unlock()
	}
}

// finish reads the counter and the list on the server behind the endpoint.
func (t *txLoop) finish(c *goredis.Client) TxResult {
	t.mu.Lock()
	r := TxResult{Acked: t.acked, Errors: t.errors, Mismatch: t.mismatch, Ambiguous: t.ambiguous}
	if t.lastErr != nil {
		r.LastErr = t.lastErr.Error()
	}
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 4*opTimeout)
	defer cancel()
	counter, err := c.Get(ctx, t.counter).Int()
	if err != nil && err != goredis.Nil {
		r.Err = fmt.Sprintf("GET %s: %v", t.counter, err)
		return r
	}
	r.Counter = counter
	list, err := c.LRange(ctx, t.list, 0, -1).Result()
	if err != nil {
		r.Err = fmt.Sprintf("LRANGE %s: %v", t.list, err)
		return r
	}
	r.ListLen = len(list)
	seen := map[int]int{}
	for i, v := range list {
		k, err := strconv.Atoi(v)
		if err != nil || k != i+1 {
			r.OutOfPlace++
		}
		if err == nil {
			seen[k]++
		}
	}
	for k := 1; k <= r.Acked; k++ {
		switch seen[k] {
		case 0:
			r.Holes++
		case 1:
		default:
			r.Duplicates++
		}
	}
	return r
}

// TxResult is the transactions' account, read on the final master.
type TxResult struct {
	Acked      int    `json:"acked"`        // transactions acknowledged (EXEC replied, or the counter showed it ran)
	Counter    int    `json:"counter"`      // the counter on the final master
	ListLen    int    `json:"list_len"`     // the list's length on the final master
	Holes      int    `json:"holes"`        // numbers 1..acked missing from the list
	Duplicates int    `json:"duplicates"`   // numbers present more than once
	OutOfPlace int    `json:"out_of_place"` // list elements that are not their position (1-based)
	Mismatch   int    `json:"mismatch"`     // EXEC replies whose INCR was not the expected number
	Errors     int    `json:"errors"`       // MULTI/EXEC calls that returned an error
	Ambiguous  int    `json:"ambiguous"`    // of those, transactions that had run
	LastErr    string `json:"last_error,omitempty"`
	Err        string `json:"error,omitempty"`
}

// Whole reports that every transaction was applied whole and once: the
// counter equals the list's length and the acknowledged count, and the
// list is 1..n, and no client error.
func (r TxResult) Whole() bool {
	return r.Err == "" && r.Errors == 0 && r.Counter == r.Acked && r.ListLen == r.Acked &&
		r.Holes == 0 && r.Duplicates == 0 && r.OutOfPlace == 0 && r.Mismatch == 0
}

func (r TxResult) String() string {
	s := fmt.Sprintf("%d acknowledged, counter %d, list length %d", r.Acked, r.Counter, r.ListLen)
	if r.Holes > 0 || r.Duplicates > 0 || r.OutOfPlace > 0 || r.Mismatch > 0 {
		s += fmt.Sprintf(", %d holes, %d duplicates, %d out of place, %d INCR mismatches", r.Holes, r.Duplicates, r.OutOfPlace, r.Mismatch)
	} else if r.Err == "" {
		s += ", list 1..n"
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d errors (%d had run): %s", r.Errors, r.Ambiguous, r.LastErr)
	}
	if r.Err != "" {
		s += " (" + r.Err + ")"
	}
	return s
}

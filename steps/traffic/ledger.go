package traffic

import (
	"math/bits"
	"sync"
)

// ledger is the set of acknowledged writes, one bit per write number: 125 KB
// for a million writes.
type ledger struct {
	mu   sync.Mutex
	bits []uint64
	n    int64
}

func (l *ledger) add(seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := int(seq / 64)
	if i >= len(l.bits) {
		l.bits = append(l.bits, make([]uint64, i+1-len(l.bits))...)
	}
	m := uint64(1) << (seq % 64)
	if l.bits[i]&m == 0 {
		l.bits[i] |= m
		l.n++
	}
}

func (l *ledger) len() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// each calls fn with every write number in the set, in increasing order,
// until fn returns false. It iterates over a snapshot.
func (l *ledger) each(fn func(seq int64) bool) {
	l.mu.Lock()
	snap := append([]uint64(nil), l.bits...)
	l.mu.Unlock()
	for i, w := range snap {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			w &^= 1 << b
			if !fn(int64(i)*64 + int64(b)) {
				return
			}
		}
	}
}

package clientmix

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// stream is a producer that XADDs numbered entries and a consumer waiting in
// XREAD BLOCK 0 after the last entry it read.
type stream struct {
	m                  *Mix
	key                string
	producer, consumer *goredis.Client
	consuming          sync.WaitGroup

	mu      sync.Mutex
	ids     []string       // acknowledged XADDs
	read    map[string]int // entries read, by ID
	errors  int
	lastErr error
	ended   bool // the consumer read the end entry
}

func (s *stream) added() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func (s *stream) fail(err error) {
	s.mu.Lock()
	s.errors++
	s.lastErr = err
	s.mu.Unlock()
}

func (s *stream) produce() {
	for i := 0; i < s.m.o.MaxOps && s.m.wait(); i++ {
		ctx, cancel := s.m.opContext()
		id, err := s.producer.XAdd(ctx, &goredis.XAddArgs{Stream: s.key, Values: []any{"n", i}}).Result()
		cancel()
		if err != nil {
			s.fail(fmt.Errorf("XADD: %w", err))
			continue
		}
		s.mu.Lock()
		s.ids = append(s.ids, id)
		s.mu.Unlock()
	}
}

// consume reads with XREAD BLOCK 0 (go-redis sets no read timeout on it)
// until it reads the end entry, or the mix's time is up.
func (s *stream) consume() {
	s.mu.Lock()
	s.read = map[string]int{}
	s.mu.Unlock()
	last := "0"
	for n := 0; n < 4*s.m.o.MaxOps; n++ {
		res, err := s.consumer.XRead(s.m.ctx, &goredis.XReadArgs{Streams: []string{s.key, last}, Block: 0}).Result()
		if err != nil {
			if s.m.ctx.Err() != nil {
				return
			}
			s.fail(fmt.Errorf("XREAD: %w", err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		for _, st := range res {
			for _, e := range st.Messages {
				last = e.ID
				if e.Values["n"] == "end" {
					s.ended = true
					continue
				}
				s.read[e.ID]++
			}
		}
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return
		}
	}
}

// finish adds the end entry and waits for the consumer to read it.
func (s *stream) finish() StreamResult {
	ctx, cancel := s.m.opContext()
	err := s.producer.XAdd(ctx, &goredis.XAddArgs{Stream: s.key, Values: []any{"n", "end"}}).Err()
	cancel()
	var r StreamResult
	if err != nil {
		r.Err = fmt.Sprintf("XADD end: %v", err)
	} else {
		done := make(chan struct{})
		go func() { s.consuming.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			r.Err = "the consumer did not read the end entry within 10 s"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Added, r.Read, r.Errors = len(s.ids), len(s.read), s.errors
	added := make(map[string]bool, len(s.ids))
	for _, id := range s.ids {
		added[id] = true
		switch s.read[id] {
		case 0:
			r.Missing++
		case 1:
		default:
			r.Twice++
		}
	}
	for id := range s.read {
		if !added[id] {
			r.Extra++
		}
	}
	if s.lastErr != nil && r.Err == "" {
		r.Err = s.lastErr.Error()
	}
	return r
}

// StreamResult counts the stream's entries: acknowledged XADDs, entries
// read, acknowledged entries never read or read twice, entries read that no
// XADD acknowledged (an XADD whose reply was lost and that ran).
type StreamResult struct {
	Added   int    `json:"added"`
	Read    int    `json:"read"`
	Missing int    `json:"missing"`
	Twice   int    `json:"twice"`
	Extra   int    `json:"extra"`
	Errors  int    `json:"errors"`
	Err     string `json:"error,omitempty"`
}

func (r StreamResult) String() string {
	s := strconv.Itoa(r.Added) + " added, " + strconv.Itoa(r.Read) + " read, " + strconv.Itoa(r.Missing) + " missing, " +
		strconv.Itoa(r.Twice) + " read twice"
	if r.Extra > 0 {
		s += fmt.Sprintf(", %d read and not acknowledged", r.Extra)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d errors", r.Errors)
	}
	if r.Err != "" {
		s += " (" + r.Err + ")"
	}
	return s
}

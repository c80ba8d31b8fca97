package clientmix

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// publisher publishes the numbers 0, 1, 2 ... on one channel.
type publisher struct {
	m       *Mix
	channel string
	client  *goredis.Client

	mu        sync.Mutex
	published []int // acknowledged PUBLISH, in order
	errors    int
	// partial counts PUBLISHes that reached fewer subscriptions than
	// the others (a subscriber away), by the number they reached.
	partial map[int64]int
	full    int64 // the most subscriptions one PUBLISH reached
}

func (p *publisher) run() {
	p.partial = map[int64]int{}
	receivers := map[int]int64{}
	for i := 0; i < p.m.o.MaxOps && p.m.wait(); i++ {
		ctx, cancel := p.m.opContext()
		n, err := p.client.Publish(ctx, p.channel, strconv.Itoa(i)).Result()
		cancel()
		p.mu.Lock()
		if err != nil {
			p.errors++
		} else {
			p.published = append(p.published, i)
			receivers[i] = n
			p.full = max(p.full, n)
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range receivers {
		if n < p.full {
			p.partial[n]++
		}
	}
}

func (p *publisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.published)
}

func (p *publisher) sent() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published
}

// subscriber is a go-redis PubSub on a channel (SUBSCRIBE) and on a
// pattern that matches it (PSUBSCRIBE): every message arrives twice, once
// per subscription. It counts what arrives on each, and the
// disconnections and resubscriptions go-redis goes through.
type subscriber struct {
	m                *Mix
	protocol         int
	channel, pattern string
	client           *goredis.Client
	ps               *goredis.PubSub
	done             chan struct{}

	mu            sync.Mutex
	seen          map[string]map[int]int // by subscription ("channel", "pattern"): number → times received
	unknown       int
	end           map[string]bool
	confirmations int // subscribe and psubscribe confirmations, the first two included
	disconnects   int
	lastErr       error
	got           int
}

func (s *subscriber) start() {
	s.done = make(chan struct{})
	s.end = map[string]bool{}
	s.ps = s.client.Subscribe(s.m.ctx, s.channel)
	// PSubscribe's error is the connection's; Receive reports it again.
	_ = s.ps.PSubscribe(s.m.ctx, s.pattern)
	go s.receive()
}

func (s *subscriber) receive() {
	defer close(s.done)
	for n := 0; n < 8*s.m.o.MaxOps && s.m.ctx.Err() == nil; n++ {
		msg, err := s.ps.ReceiveTimeout(s.m.ctx, time.Second)
		s.mu.Lock()
		switch v := msg.(type) {
		case *goredis.Subscription:
			if v.Kind == "subscribe" || v.Kind == "psubscribe" {
				s.confirmations++
			}
		case *goredis.Message:
			sub := "channel"
			if v.Pattern != "" {
				sub = "pattern"
			}
			if v.Payload == "end" {
				s.end[sub] = true
				break
			}
			i, err := strconv.Atoi(v.Payload)
			if err != nil {
				s.unknown++
				break
			}
			if s.seen[sub] == nil {
				s.seen[sub] = map[int]int{}
			}
			s.seen[sub][i]++
			s.got++
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			// go-redis closes the connection and reconnects, then
			// resubscribes, on the next Receive.
			s.disconnects++
			s.lastErr = err
		}
		ended := s.end["channel"] && s.end["pattern"]
		s.mu.Unlock()
		if ended {
			return
		}
		if err != nil && s.m.ctx.Err() == nil && s.disconnects > 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func (s *subscriber) ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end["channel"] && s.end["pattern"]
}

// finish ends the subscriber and counts, per subscription, against what
// was published.
func (s *subscriber) finish(published []int) []SubscriptionResult {
	_ = s.ps.Close()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SubscriptionResult
	for _, sub := range []string{"channel", "pattern"} {
		r := SubscriptionResult{
			Name:        fmt.Sprintf("RESP%d %s", s.protocol, sub),
			Published:   len(published),
			Ended:       s.end[sub],
			Disconnects: s.disconnects,
			// Two confirmations per connection: SUBSCRIBE and PSUBSCRIBE.
			Resubscribed: max(s.confirmations/2-1, 0),
			Unknown:      s.unknown,
		}
		if s.lastErr != nil && !s.end[sub] {
			r.Err = s.lastErr.Error()
		}
		seen := s.seen[sub]
		pub := make(map[int]bool, len(published))
		for _, i := range published {
			pub[i] = true
			switch seen[i] {
			case 0:
				r.Missed = append(r.Missed, i)
			case 1:
				r.Received++
			default:
				r.Received++
				r.Duplicates++
			}
		}
		for i := range seen {
			if !pub[i] {
				r.Unknown++ // received, never acknowledged as published
			}
		}
		sort.Ints(r.Missed)
		out = append(out, r)
	}
	return out
}

// PubSubResult is what the publisher sent and what each subscription got.
type PubSubResult struct {
	Published     int                  `json:"published"`
	PublishErrors int                  `json:"publish_errors"`
	Partial       map[int64]int        `json:"partial,omitempty"` // PUBLISHes that reached fewer subscriptions than the most, by subscriptions reached
	Subscribers   []SubscriptionResult `json:"subscribers"`
}

func (r PubSubResult) String() string {
	parts := []string{fmt.Sprintf("%d published", r.Published)}
	for _, s := range r.Subscribers {
		parts = append(parts, s.Name+" "+s.String())
	}
	if len(r.Partial) > 0 {
		parts = append(parts, fmt.Sprintf("PUBLISHes that reached fewer subscriptions %v", r.Partial))
	}
	return strings.Join(parts, ", ")
}

// SubscriptionResult is one subscription of one subscriber.
type SubscriptionResult struct {
	Name         string `json:"name"` // "RESP2 channel", "RESP3 pattern" ...
	Published    int    `json:"published"`
	Received     int    `json:"received"` // distinct published messages received
	Missed       []int  `json:"missed,omitempty"`
	Duplicates   int    `json:"duplicates"`
	Unknown      int    `json:"unknown"` // messages never acknowledged as published
	Disconnects  int    `json:"disconnects"`
	Resubscribed int    `json:"resubscribed"` // times go-redis subscribed again on a new connection
	Ended        bool   `json:"ended"`        // it received the end message: it was subscribed at the end
	Err          string `json:"error,omitempty"`
}

func (r SubscriptionResult) String() string {
	s := fmt.Sprintf("%d/%d received", r.Received, r.Published)
	if len(r.Missed) > 0 {
		s += fmt.Sprintf(" (missed %s)", ranges(r.Missed))
	}
	s += fmt.Sprintf(", %d disconnect(s), %d resubscription(s)", r.Disconnects, r.Resubscribed)
	if r.Duplicates > 0 || r.Unknown > 0 {
		s += fmt.Sprintf(", %d twice, %d never published", r.Duplicates, r.Unknown)
	}
	if !r.Ended {
		s += ", not subscribed at the end"
	}
	return s
}

// ranges writes sorted numbers as "3-5 9".
func ranges(v []int) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		j := i
		for j+1 < len(v) && v[j+1] == v[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", v[i], v[j])
		} else {
			fmt.Fprintf(&b, "%d", v[i])
		}
		i = j + 1
	}
	return b.String()
}

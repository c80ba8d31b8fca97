package proxy_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/rehearsal/proxy"
)

// roundTrip is the mean time of n sequential SETs.
func roundTrip(ctx context.Context, c *redis.Client, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		if err := c.Set(ctx, "overhead:"+strconv.Itoa(i%100), i, 0).Err(); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(n), nil
}

// TestProxyOverhead logs the latency the proxy adds to a round trip, and
// fails on a batching delay (a timer-driven flush would add a millisecond or
// more per command).
func TestProxyOverhead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := redistest.Start(t)
	p := startProxy(t, s.Addr)
	direct, proxied := client(t, s.Addr, s.Password), client(t, p.Addr(), s.Password)
	best := func(c *redis.Client) time.Duration {
		d := time.Hour
		for range 3 {
			m, err := roundTrip(ctx, c, 1000)
			if err != nil {
				t.Fatal(err)
			}
			d = min(d, m)
		}
		return d
	}
	if _, err := roundTrip(ctx, proxied, 100); err != nil { // warm up both paths
		t.Fatal(err)
	}
	if _, err := roundTrip(ctx, direct, 100); err != nil {
		t.Fatal(err)
	}
	d, pr := best(direct), best(proxied)
	t.Logf("SET round trip: direct %v, through the proxy %v: +%v, ratio %.2f", d, pr, pr-d, float64(pr)/float64(d))
	if pr > d+2*time.Millisecond {
		t.Fatalf("the proxy adds %v to a round trip", pr-d)
	}
}

func BenchmarkSET(b *testing.B) {
	s := redistest.Start(b)
	p, err := proxy.Listen("127.0.0.1:0", s.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for _, bc := range []struct{ name, addr string }{{"direct", s.Addr}, {"proxy", p.Addr()}} {
		b.Run(bc.name, func(b *testing.B) {
			c := redis.NewClient(&redis.Options{Addr: bc.addr, Password: s.Password})
			defer c.Close()
			for i := 0; b.Loop(); i++ {
				if err := c.Set(ctx, "bench", i, 0).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			c := redis.NewClient(&redis.Options{Addr: bc.addr, Password: s.Password})
			defer c.Close()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.Set(ctx, "bench", 1, 0).Err(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

package dataset

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A comparison reads and hashes as fast as the servers answer, and in a
// rehearsal it shares two CPUs with the servers, the endpoint proxy and the
// write probe: measured, its bursts held the probe's replies back by 20–30 ms
// although no server command took more than 5 ms. The pacer rests a
// comparison's client for paceRest after every paceBurst of work, so other
// goroutines and processes get the CPU within a few milliseconds.
const (
	paceBurst = 2 * time.Millisecond
	paceRest  = 1 * time.Millisecond
)

// pacer is a go-redis hook that sleeps before a command or pipeline when
// the client has been busy for paceBurst since its last rest.
type pacer struct {
	mu   sync.Mutex
	last time.Time
}

func (p *pacer) pace() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last.IsZero() {
		p.last = time.Now()
		return
	}
	if time.Since(p.last) >= paceBurst {
		time.Sleep(paceRest)
		p.last = time.Now()
	}
}

func (p *pacer) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p *pacer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		p.pace()
		return next(ctx, cmd)
	}
}

func (p *pacer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		p.pace()
		return next(ctx, cmds)
	}
}

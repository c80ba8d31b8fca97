package rehearsal

import (
	"context"
	"sync"

	"github.com/understudy/understudy/steps/rehearsal/proxy"
)

// endpoint is an endpoint as a proxy the rehearsal controls.
type endpoint struct {
	p      *proxy.Proxy
	mu     sync.Mutex
	target string
}

func (e *endpoint) Hold(ctx context.Context) error { return e.p.Hold(ctx) }

func (e *endpoint) Repoint(_ context.Context, node, addr string) error {
	e.p.Repoint(addr)
	e.mu.Lock()
	e.target = node
	e.mu.Unlock()
	return nil
}

func (e *endpoint) Release() { e.p.Release() }

func (e *endpoint) Target() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.target
}

package rehearsal

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/container"
)

// backend is the node contract over rehearsal containers.
type backend struct {
	mu      sync.Mutex
	nodes   map[string]*container.Node
	clients map[string]*redis.Client
}

func newBackend() *backend {
	return &backend{nodes: map[string]*container.Node{}, clients: map[string]*redis.Client{}}
}

func (b *backend) node(name string) (*container.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.nodes[name]
	if !ok {
		return nil, fmt.Errorf("node %q has no rehearsal container", name)
	}
	return n, nil
}

func (b *backend) Client(name string) (*redis.Client, error) {
	n, err := b.node(name)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.clients[name]; ok {
		return c, nil
	}
	// A client of our own, named so that app_clients leaves it out.
	c := redis.NewClient(&redis.Options{Addr: n.Addr(), Password: n.Password(), ClientName: steps.ClientName})
	b.clients[name] = c
	return c, nil
}

func (b *backend) Address(name string) (string, error) {
	n, err := b.node(name)
	if err != nil {
		return "", err
	}
	return n.Addr(), nil
}

func (b *backend) MasterAuth(name string) string {
	n, err := b.node(name)
	if err != nil {
		return ""
	}
	return n.Password()
}

func (b *backend) Upgrade(ctx context.Context, name string, v dsl.Version) error {
	n, err := b.node(name)
	if err != nil {
		return err
	}
	return n.Replace(ctx, v)
}

// close closes the clients and removes the containers.
func (b *backend) close(ctx context.Context) []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.clients {
		_ = c.Close()
	}
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for name, n := range b.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Terminate(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("remove node %q: %w", name, err))
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

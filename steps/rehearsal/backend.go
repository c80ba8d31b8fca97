package rehearsal

import (
	"context"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

// backend is the node contract over rehearsal containers.
type backend struct {
	steps.ClientCache
	mu    sync.Mutex
	nodes map[string]*container.Node
}

func newBackend() *backend {
	return &backend{nodes: map[string]*container.Node{}}
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

func (b *backend) Client(name string) (*goredis.Client, error) {
	return b.Get(name, func() (*goredis.Options, error) {
		n, err := b.node(name)
		if err != nil {
			return nil, err
		}
		return &goredis.Options{Addr: n.Addr(), Password: n.Password()}, nil
	})
}

func (b *backend) Address(name string) (string, error) {
	n, err := b.node(name)
	if err != nil {
		return "", err
	}
	return n.Addr(), nil
}

func (b *backend) MasterAuth(name string) steps.Auth {
	n, err := b.node(name)
	if err != nil {
		return steps.Auth{}
	}
	return steps.Auth{Password: n.Password()}
}

func (b *backend) Upgrade(ctx context.Context, name string, v redis.Version) error {
	n, err := b.node(name)
	if err != nil {
		return err
	}
	return n.Replace(ctx, v)
}

// close closes the clients and removes the containers.
func (b *backend) close(ctx context.Context) []error {
	b.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
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

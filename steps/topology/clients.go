package topology

import (
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// ClientName is the name understudy's own connections carry, so that
// app_clients can leave them out.
const ClientName = "understudy"

// ClientCache holds the controller's client per node, created on first use
// and named ClientName. Backends embed it.
type ClientCache struct {
	// Hook, when set, is added to every client created from then on, e.g.
	// a dry run's filter of write commands.
	Hook func(node string) goredis.Hook

	mu      sync.Mutex
	clients map[string]*goredis.Client
}

// Get returns the node's client, creating it from opts the first time.
func (c *ClientCache) Get(node string, opts func() (*goredis.Options, error)) (*goredis.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[node]; ok {
		return cl, nil
	}
	o, err := opts()
	if err != nil {
		return nil, err
	}
	o.ClientName = ClientName
	cl := goredis.NewClient(o)
	if c.Hook != nil {
		cl.AddHook(c.Hook(node))
	}
	if c.clients == nil {
		c.clients = map[string]*goredis.Client{}
	}
	c.clients[node] = cl
	return cl, nil
}

// Close closes every client.
func (c *ClientCache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.clients {
		_ = cl.Close()
	}
	c.clients = nil
}

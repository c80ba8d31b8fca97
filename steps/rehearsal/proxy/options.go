package proxy

import "time"

// Option changes how a proxy works.
type Option func(*config)

type config struct {
	redial      bool
	dialTimeout time.Duration
	bufSize     int
}

func defaultConfig() config {
	return config{redial: true, dialTimeout: 5 * time.Second, bufSize: 16 << 10}
}

// WithCloseOnRepoint makes Repoint close every client connection bound to
// the old backend, like HAProxy's shutdown-sessions, instead of moving the
// ones that can be moved by replaying their handshake. Clients then see EOF
// and reconnect (go-redis v9 retries after a back-off of 10 to 30 ms by default).
func WithCloseOnRepoint() Option { return func(c *config) { c.redial = false } }

// WithDialTimeout bounds dialing a backend and replaying a handshake on it
// (default 5 s).
func WithDialTimeout(d time.Duration) Option { return func(c *config) { c.dialTimeout = d } }

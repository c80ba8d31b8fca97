package traffic

import (
	"crypto/tls"
	"errors"
	"time"
)

// Options configure a Writer. Zero values take the defaults.
type Options struct {
	Addr     string // host:port the application uses, e.g. the rehearsal proxy
	Username string
	Password string
	DB       int // default 0
	// TLSConfig, when set, connects over TLS.
	TLSConfig *tls.Config
	// Sentinel, when set, makes the writer find the master through
	// Sentinel, with go-redis's failover client (default retries), as
	// applications of a Sentinel deployment do; Addr is then unused.
	Sentinel *SentinelTarget
	// Cluster, when set, makes the writer write to a Redis Cluster with
	// go-redis's cluster client (default settings), as applications of a
	// cluster do: each key goes to its slot's master, and the client
	// follows redirections and failovers; Addr is then unused and DB must
	// be 0. Verify with VerifyCluster.
	Cluster *ClusterTarget

	Prefix   string        // key prefix, default "understudy:traffic:"
	Rate     int           // writes per second, default 1000
	Workers  int           // concurrent writers, default 4, so one stalled write does not stop the clock
	Interval time.Duration // timeline bucket, default 100ms

	MaxDuration time.Duration // hard bound on writing, default 30m
	MaxWrites   int64         // hard bound on writes, default Rate × MaxDuration

	// Origin is the instant the report's times are measured from (marks,
	// gaps, the longest stall, the timeline's buckets), so that they share
	// the caller's clock: a rehearsal passes its run's start, and step
	// windows measured from it can be given to Report.Attribute. The zero
	// value is the writer's start. It must not be after Start is called.
	Origin time.Time
}

// SentinelTarget is a master found through Sentinel.
type SentinelTarget struct {
	MasterName string
	// Addrs are the sentinels, host:port.
	Addrs []string
	// Username and Password authenticate to the sentinels (Redis 6.2+
	// sentinels may have a password of their own).
	Username, Password string
}

// Defaults.
const (
	DefaultPrefix      = "understudy:traffic:"
	DefaultRate        = 1000
	DefaultWorkers     = 4
	DefaultInterval    = 100 * time.Millisecond
	DefaultMaxDuration = 30 * time.Minute
)

func (o Options) withDefaults() (Options, error) {
	if o.Addr == "" && (o.Sentinel == nil || o.Sentinel.MasterName == "" || len(o.Sentinel.Addrs) == 0) && o.Cluster == nil {
		return o, errors.New("traffic: no address, no master name and sentinels, and no cluster")
	}
	if o.Rate < 0 || o.Workers < 0 || o.Interval < 0 || o.MaxDuration < 0 || o.MaxWrites < 0 || o.DB < 0 {
		return o, errors.New("traffic: negative option")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Cluster != nil {
		if err := o.checkCluster(); err != nil {
			return o, err
		}
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxDuration == 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	if o.MaxWrites == 0 {
		o.MaxWrites = int64(float64(o.Rate) * o.MaxDuration.Seconds())
		if o.MaxWrites < 1 {
			o.MaxWrites = 1
		}
	}
	return o, nil
}

package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
)

// Sentinel is a rehearsal sentinel: one container at a time, on a fixed
// loopback port, with a data directory that holds its configuration file
// and outlives the containers. The sentinel keeps its state in that file
// (its myid, the epochs, the replicas and other sentinels it knows), so
// Replace upgrades it in place as a package upgrade would: same address,
// same id, same knowledge.
//
// A Sentinel shares a Node's container machinery: the same labels,
// container names, session, image catalog and cleanup (Terminate,
// RemoveSession, RemoveStale). Its methods may be called from several
// goroutines; lifecycle operations run one at a time.
type Sentinel struct {
	// Name is the sentinel's name in the runbook.
	Name string

	node    *Node // the container, port, password, data and temporary dirs
	monitor SentinelMonitor
	secrets *redact.Secrets // the sentinel's and the data nodes' passwords
}

// RunSentinel starts a sentinel of version v named name that monitors the
// master m describes, and waits until it answers. Like Run, it listens on
// 127.0.0.1 through host networking, on a free port unless WithPort says
// otherwise, and its password appears only in its configuration file
// (data directory/sentinel.conf, mounted with the directory at /data), never
// on a command line. The caller terminates the sentinel.
//
// The options are Run's, read for a sentinel:
//   - WithPassword sets the sentinel's own requirepass. Sentinels
//     authenticate to each other with it, so all sentinels of one master
//     need the same one. Without WithPassword the sentinel's password is
//     m.AuthPass, the data nodes' password, which every sentinel of the
//     master shares; WithPassword("") runs it without a password.
//   - WithDataDir names a directory for sentinel.conf; it must not hold one
//     already (a sentinel's state is not taken over silently).
//   - WithUser is ignored: sentinels have no application users. The user
//     the sentinel authenticates to the data nodes as is m.AuthUser
//     (sentinel auth-user).
//
// requirepass is written on every version, 6.0 included (Sentinel has it
// since 5.0.1; checked on 6.0.16). Both passwords must be printable ASCII
// without spaces, quotes or backslashes: sentinels rewrite them unquoted
// into their configuration and would not start again (see
// checkSentinelPassword).
func RunSentinel(ctx context.Context, name string, v redis.Version, m SentinelMonitor, opts ...Option) (*Sentinel, error) {
	s, err := newSentinel(name, m, opts)
	if err != nil {
		return nil, fmt.Errorf("run sentinel %q (%s): %w", name, v, err)
	}
	if err := s.launch(ctx, v); err != nil {
		err = fmt.Errorf("run sentinel %q (%s): %w", name, v, err)
		if terr := s.Terminate(context.WithoutCancel(ctx)); terr != nil {
			err = errors.Join(err, terr)
		}
		return nil, err
	}
	return s, nil
}

func newSentinel(name string, m SentinelMonitor, opts []Option) (*Sentinel, error) {
	m = m.withDefaults()
	if err := m.check(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if !o.passwordSet {
		o.password = m.AuthPass
		opts = append(opts[:len(opts):len(opts)], WithPassword(m.AuthPass))
	}
	if err := checkSentinelPassword("the sentinel's password", o.password); err != nil {
		return nil, err
	}
	n, err := newNode(name, opts)
	if err != nil {
		return nil, err
	}
	s := &Sentinel{Name: name, node: n, monitor: m, secrets: redact.New(n.password, m.AuthPass)}
	if _, err := os.Stat(s.ConfigFile()); !errors.Is(err, fs.ErrNotExist) {
		_ = n.Terminate(context.Background()) // only its temporary dir: it has no container
		if err == nil {
			return nil, fmt.Errorf("data dir %s already holds a sentinel configuration (%s): remove it or use another directory", n.dataDir, sentinelConfName)
		}
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return s, nil
}

// Version returns the version of the sentinel's current container.
func (s *Sentinel) Version() redis.Version { return s.node.Version() }

// Image returns the image of the sentinel's current container.
func (s *Sentinel) Image() string { return s.node.Image() }

// ContainerID returns the id of the sentinel's current container, or ""
// after Terminate.
func (s *Sentinel) ContainerID() string { return s.node.ContainerID() }

// Addr returns host:port, the same for every container of the sentinel and
// the address it announces to the other sentinels.
func (s *Sentinel) Addr() string { return s.node.Addr() }

// Host returns the address the sentinel listens on: 127.0.0.1.
func (s *Sentinel) Host() string { return s.node.Host() }

// Port returns the sentinel's loopback port.
func (s *Sentinel) Port() int { return s.node.Port() }

// Password returns the sentinel's own requirepass ("" for none).
func (s *Sentinel) Password() string { return s.node.Password() }

// Session returns the session the sentinel belongs to.
func (s *Sentinel) Session() string { return s.node.Session() }

// DataDir returns the host directory mounted at /data.
func (s *Sentinel) DataDir() string { return s.node.DataDir() }

// ConfigFile returns the host path of the sentinel's configuration file,
// which the sentinel rewrites with its state. It holds the sentinel's and
// the data nodes' passwords; from its first rewrite the sentinel makes it
// 0644, so it is as private as its directory (0700 by default).
func (s *Sentinel) ConfigFile() string { return filepath.Join(s.node.dataDir, sentinelConfName) }

// Monitor returns what the sentinel was started to monitor. The master it
// follows after a failover is what it answers to SENTINEL
// GET-MASTER-ADDR-BY-NAME.
func (s *Sentinel) Monitor() SentinelMonitor { return s.monitor }

// Client returns a new go-redis client for the sentinel, with its
// password; the caller closes it. The functions of steps/redis that take a
// sentinel's client accept it.
func (s *Sentinel) Client() *goredis.Client { return s.node.Client() }

// Logs returns the output of the sentinel's current container, with its
// password and the data nodes' redacted: a sentinel that cannot read its
// configuration prints the offending line.
func (s *Sentinel) Logs(ctx context.Context) (string, error) {
	out, err := s.node.Logs(ctx)
	out = s.secrets.String(out)
	if err != nil {
		return out, fmt.Errorf("sentinel %q: %w", s.Name, err)
	}
	return out, nil
}

// logTail is Node.logTail with the passwords redacted, for error messages.
func (s *Sentinel) logTail(ctx context.Context, lines int) string {
	return s.secrets.String(s.node.logTail(ctx, lines))
}

// MyID returns the sentinel's id, by which the other sentinels know it
// (their SENTINEL SENTINELS runid). It is kept in the configuration file,
// so it survives Stop, Start and Replace, unlike INFO's run_id, which is
// new for each process. It asks SENTINEL MYID (6.2+); a 6.0 sentinel,
// which lacks the command, or one that is stopped, is read from its file.
func (s *Sentinel) MyID(ctx context.Context) (string, error) {
	if _, running, err := s.node.container(ctx); err == nil && running {
		cl := s.node.adminClient()
		defer cl.Close()
		id, err := cl.Do(ctx, "SENTINEL", "MYID").Text()
		switch {
		case err == nil:
			return id, nil
		case !strings.Contains(strings.ToLower(err.Error()), "unknown"):
			return "", fmt.Errorf("sentinel %q: SENTINEL MYID: %w", s.Name, err)
		}
	}
	id, err := configMyID(s.ConfigFile())
	if err != nil {
		return "", fmt.Errorf("sentinel %q: read myid from %s: %w", s.Name, sentinelConfName, err)
	}
	return id, nil
}

// Stop stops the sentinel's container gracefully: SIGTERM, then SIGKILL
// after StopTimeout. The sentinel rewrites its configuration whenever its
// state changes, so the file holds its state when it exits. The container
// and the file stay; Start resumes the sentinel. Stopping a stopped
// sentinel does nothing. A sentinel that did not exit cleanly is an error.
func (s *Sentinel) Stop(ctx context.Context) error {
	s.node.op.Lock()
	defer s.node.op.Unlock()
	if err := s.stop(ctx); err != nil {
		return fmt.Errorf("stop sentinel %q: %w", s.Name, err)
	}
	return nil
}

func (s *Sentinel) stop(ctx context.Context) error {
	ctr, running, err := s.node.container(ctx)
	if err != nil || !running {
		return err
	}
	code, err := stopContainer(ctx, ctr)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("sentinel did not exit cleanly (exit code %d; 137 means it was killed after %s)\ncontainer log (last 20 lines):\n%s",
			code, StopTimeout, s.logTail(ctx, 20))
	}
	return nil
}

// Start starts the sentinel's stopped container again, same version and
// configuration file, and waits until it answers. Starting a running
// sentinel only waits for it to answer.
func (s *Sentinel) Start(ctx context.Context) error {
	s.node.op.Lock()
	defer s.node.op.Unlock()
	if err := s.start(ctx); err != nil {
		return fmt.Errorf("start sentinel %q: %w", s.Name, err)
	}
	return nil
}

func (s *Sentinel) start(ctx context.Context) error {
	ctr, running, err := s.node.container(ctx)
	if err != nil {
		return err
	}
	if ctr == nil {
		return errors.New("sentinel has no container; Replace starts one")
	}
	if !running {
		if err := ctr.Start(ctx); err != nil {
			return err
		}
	}
	return s.ready(ctx)
}

// Replace is a rehearsal's upgrade (or downgrade) of the sentinel: it stops
// the container (SIGTERM), removes it, and starts a container of version
// to on the same port with the same configuration file, which the new
// version reads as its own: it comes back with the same myid, knowing the
// master, its replicas and the other sentinels. Afterwards Version returns
// to.
//
// The image of to is resolved (and pulled) before the old sentinel stops.
// If the new sentinel does not answer (an older version may refuse a
// directive a newer one wrote), Version reports to and its container stays
// for Logs; Replace back to the old version is the rollback.
func (s *Sentinel) Replace(ctx context.Context, to redis.Version) error {
	s.node.op.Lock()
	defer s.node.op.Unlock()
	from := s.Version()
	if err := s.replace(ctx, to); err != nil {
		return fmt.Errorf("replace sentinel %q %s→%s: %w", s.Name, from, to, err)
	}
	return nil
}

func (s *Sentinel) replace(ctx context.Context, to redis.Version) error {
	if _, _, err := s.node.container(ctx); err != nil {
		return err
	}
	image, err := s.node.catalog.Image(ctx, to)
	if err != nil {
		return err
	}
	if err := ensureImage(ctx, image); err != nil {
		return err
	}
	if err := s.stop(ctx); err != nil {
		return err
	}
	if err := s.node.removeContainer(ctx); err != nil {
		return err
	}
	return s.launchImage(ctx, to, image)
}

// Terminate removes the sentinel's container and deletes its temporary
// files, the default data directory and its configuration file included (a
// directory given with WithDataDir stays, with the file). Terminate may be
// called more than once, and on a nil Sentinel.
func (s *Sentinel) Terminate(ctx context.Context) error {
	if s == nil {
		return nil
	}
	if err := s.node.Terminate(ctx); err != nil {
		return fmt.Errorf("sentinel: %w", err)
	}
	return nil
}

// launch writes the first configuration and starts a container of v.
func (s *Sentinel) launch(ctx context.Context, v redis.Version) error {
	image, err := s.node.catalog.Image(ctx, v)
	if err != nil {
		return err
	}
	if err := ensureImage(ctx, image); err != nil {
		return err
	}
	text := sentinelConfig(v, s.node.port, s.node.password, s.monitor)
	if err := os.WriteFile(s.ConfigFile(), []byte(text), 0o600); err != nil {
		return fmt.Errorf("write sentinel config: %w", err)
	}
	return s.launchImage(ctx, v, image)
}

// sentinelBinary is the sentinel program of an engine, on PATH in both the
// local and the official images.
func sentinelBinary(e redis.Engine) string {
	if e == redis.EngineValkey {
		return "valkey-sentinel"
	}
	return "redis-sentinel"
}

// launchImage starts a container of version v from image with the
// configuration file as it is, and waits until the sentinel answers. The
// container is set up as a data node's (see Node.launchImage), except that
// the data directory, which holds the configuration file, is the only
// mount: the sentinel must be able to rewrite the file, and from 7.0 it
// does so by renaming a new file over it.
func (s *Sentinel) launchImage(ctx context.Context, v redis.Version, image string) error {
	if err := s.node.startContainer(ctx, v, image, sentinelBinary(v.Engine), sentinelConfPath); err != nil {
		// The container's log may print a config line with a password.
		return errors.New(s.secrets.String(err.Error()))
	}
	return s.ready(ctx)
}

// ready waits until the sentinel answers PING with its password, the
// container exits, or the start timeout passes. A sentinel reads its whole
// configuration, state included, before it accepts connections.
func (s *Sentinel) ready(ctx context.Context) error {
	n := s.node
	n.mu.RLock()
	ctr := n.ctr
	n.mu.RUnlock()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, n.startTimeout)
	defer cancel()
	cl := n.adminClient()
	defer cl.Close()
	fail := func(err error) error {
		return fmt.Errorf("%s sentinel on %s (image %s): %w\ncontainer log (last 20 lines):\n%s", n.Version(), n.Addr(), n.Image(), err, s.logTail(ctx, 20))
	}
	for {
		err := ping(wctx, cl)
		if err == nil {
			return nil
		}
		if st, serr := ctr.State(wctx); serr == nil && !st.Running {
			return fail(fmt.Errorf("sentinel exited with code %d before it answered (last probe: %w)", st.ExitCode, err))
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fail(fmt.Errorf("waiting for the sentinel: %w", ctx.Err()))
			}
			return fail(fmt.Errorf("sentinel not ready after %s: %w", time.Since(start).Round(time.Millisecond), err))
		case <-time.After(pollInterval):
		}
	}
}

package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
)

// outputTail is how much of a lifecycle command's combined output is kept
// for its error, in bytes.
const outputTail = 4 << 10

// errorLines is how many of the output's last lines an error quotes.
const errorLines = 15

// probeInterval is the pause between two probes of a node that is coming
// back; probeTimeout bounds each probe.
const (
	probeInterval = 200 * time.Millisecond
	probeTimeout  = 2 * time.Second
)

// Environment variables a lifecycle command gets besides understudy's own:
// the node's password (redis-cli reads REDISCLI_AUTH) and ACL user, when
// the node has them.
const (
	EnvPassword = "REDISCLI_AUTH"
	EnvUsername = "UNDERSTUDY_USERNAME"
)

// Stop runs the node's lifecycle stop command. It does not wait for
// anything: the command is done when it exits 0. Stop and Start are for
// the step kinds that stop or start a node without changing its version
// (none yet); a dry run sends neither.
func (n *node) Stop(ctx context.Context) error {
	return n.lifecycle(ctx, dsl.LifecycleStop, nil)
}

// Start runs the node's lifecycle start command, then waits until the node
// answers PING with its credentials.
func (n *node) Start(ctx context.Context) error {
	return n.lifecycle(ctx, dsl.LifecycleStart, nil)
}

// lifecycle runs one lifecycle action of the node, then, unless it is a
// stop, waits until the node answers PING and, with want, reports want's
// engine and major.minor. The block's timeout bounds the command and the
// wait together. Every line it logs and every error is redacted.
func (n *node) lifecycle(ctx context.Context, action string, want *redis.Version) error {
	if n.t.dryRun != nil {
		ns := &steps.NotSent{Target: "node " + n.n.Name, What: fmt.Sprintf("its lifecycle %s command", action)}
		n.t.dryRun(ns)
		return ns
	}
	c := n.n.Lifecycle.Command(action)
	if c == nil {
		return steps.Permanent(fmt.Errorf("node %q has no lifecycle %s command: give the node lifecycle { %s = [...] } to run it live", n.n.Name, action, action))
	}
	at := rangeText(c.Expr.Range())
	if c.Args == nil {
		return steps.Permanent(fmt.Errorf("the lifecycle %s command of node %q (%s) is not resolved (an env() it reads is unset?)", action, n.n.Name, at))
	}
	version := ""
	if want != nil {
		version = want.String()
	}
	argv := c.Expand(n.n, version)
	secrets := redact.New(n.t.rb.Secrets()...)
	logf := func(format string, args ...any) {
		if n.t.Log != nil {
			n.t.Log(secrets.String(fmt.Sprintf("node %s %s: ", n.n.Name, action) + fmt.Sprintf(format, args...)))
		}
	}
	timeout := n.n.Lifecycle.Timeout
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The server's run id before: a server that answers with the same one
	// afterwards has not been replaced yet.
	before := ""
	if want != nil {
		if info, err := n.probe(actx); err == nil {
			before = info["run_id"]
		}
	}

	logf("running %s", argvText(argv))
	start := time.Now()
	env := os.Environ()
	if n.n.Password != "" {
		env = append(env, EnvPassword+"="+n.n.Password)
	}
	if n.n.Username != "" {
		env = append(env, EnvUsername+"="+n.n.Username)
	}
	tail, err := runCommand(actx, argv, n.t.rb.Dir, env, secrets, func(line string) { logf("| %s", line) })
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			err = fmt.Errorf("did not finish within the lifecycle timeout of %s and was killed", timeout)
		}
		msg := fmt.Sprintf("lifecycle %s command of node %q (%s): %s: %v", action, n.n.Name, at, argv[0], err)
		if lines := lastLines(tail, errorLines); lines != "" {
			msg += "; its output ends with:\n" + lines
		}
		return errors.New(secrets.String(msg))
	}
	logf("command done in %s", time.Since(start).Round(time.Millisecond))
	if action == dsl.LifecycleStop {
		return nil
	}

	waited := time.Now()
	v, err := n.waitServer(actx, want, before)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("after the lifecycle %s command of node %q (%s): %w", action, n.n.Name, at, err)
	}
	logf("%s answers on %s after %s", n.n.Name, v, time.Since(waited).Round(time.Millisecond))
	return nil
}

// wrongVersionError is a node that answers on another version than the
// upgrade asked for.
type wrongVersionError struct {
	node      string
	got, want redis.Version
	restarted bool
}

func (e *wrongVersionError) Error() string {
	if e.restarted {
		return fmt.Sprintf("node %q came back on %s, the upgrade asked for %s", e.node, e.got, e.want.Series())
	}
	return fmt.Sprintf("node %q still reports %s, the upgrade asked for %s", e.node, e.got, e.want.Series())
}

// waitServer polls the node until it answers PING and, with want, reports
// want's engine and major.minor. A server with a run id other than before
// that reports another version came back on the wrong version: that is a
// permanent error at once; a server with the same run id (or an unknown
// one) is waited for until ctx ends, and the error then names both
// versions.
func (n *node) waitServer(ctx context.Context, want *redis.Version, before string) (redis.Version, error) {
	var last error
	for {
		info, err := n.probe(ctx)
		if err == nil {
			var v redis.Version
			v, err = redis.VersionFromInfo(info)
			switch {
			case err != nil:
			case want == nil || (v.Engine == want.Engine && v.Series().Compare(want.Series()) == 0):
				return v, nil
			case before != "" && info["run_id"] != before:
				return v, steps.Permanent(&wrongVersionError{node: n.n.Name, got: v, want: *want, restarted: true})
			default:
				err = &wrongVersionError{node: n.n.Name, got: v, want: *want}
			}
		}
		if last == nil || ctx.Err() == nil {
			last = err // not the probe cut short by the end of the wait
		}
		select {
		case <-ctx.Done():
			var wv *wrongVersionError
			if errors.As(last, &wv) {
				return redis.Version{}, fmt.Errorf("%w when the lifecycle timeout ended", last)
			}
			return redis.Version{}, fmt.Errorf("node %q did not answer when the lifecycle timeout ended (last: %v)", n.n.Name, last)
		case <-time.After(probeInterval):
		}
	}
}

// probe sends PING and INFO server on a connection of its own, with the
// node's credentials, and returns INFO's fields.
func (n *node) probe(ctx context.Context) (map[string]string, error) {
	o, err := clientOptions(n.n)
	if err != nil {
		return nil, err
	}
	o.ClientName = topology.ClientName
	o.MaxRetries = -1
	o.PoolSize = 1
	o.DialTimeout = probeTimeout
	o.DialerRetries = 1
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	// A plain dial first: go-redis logs every failed dial of its pool.
	var d net.Dialer
	conn, err := d.DialContext(pctx, "tcp", n.n.Address)
	if err != nil {
		return nil, err
	}
	_ = conn.Close()
	c := goredis.NewClient(o)
	defer c.Close()
	if err := c.Ping(pctx).Err(); err != nil {
		return nil, fmt.Errorf("PING: %w", err)
	}
	info, err := redis.ReadInfo(pctx, c, "server")
	if err != nil {
		return nil, fmt.Errorf("INFO server: %w", err)
	}
	return info, nil
}

// runCommand runs argv from dir with env, stdin closed, in a process group
// of its own that ctx's end kills. Its combined output goes, redacted, line
// by line to line; the last outputTail bytes of it are returned.
func runCommand(ctx context.Context, argv []string, dir string, env []string, secrets *redact.Secrets, line func(string)) ([]byte, error) {
	out := &outputLog{line: line}
	w := secrets.NewWriter(out)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = newProcessGroup()
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	// A program it left running in the background may hold its output
	// open: the wait ends this long after the command itself exited.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	_ = w.Close()
	out.flush()
	return out.tail, err
}

// outputLog receives a command's output, already redacted: it hands each
// complete line to line and keeps the last outputTail bytes.
type outputLog struct {
	line    func(string)
	partial []byte
	tail    []byte
}

func (o *outputLog) Write(p []byte) (int, error) {
	o.tail = append(o.tail, p...)
	if len(o.tail) > outputTail {
		o.tail = o.tail[len(o.tail)-outputTail:]
	}
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.line(strings.TrimRight(string(o.partial[:i]), "\r"))
		o.partial = o.partial[i+1:]
	}
	if len(o.partial) > outputTail {
		o.line(string(o.partial))
		o.partial = nil
	}
	return len(p), nil
}

// flush hands over an unterminated last line.
func (o *outputLog) flush() {
	if len(o.partial) > 0 {
		o.line(string(o.partial))
		o.partial = nil
	}
}

// lastLines returns at most n of the last lines of out, indented; a first
// line cut by the tail's limit is left out.
func lastLines(out []byte, n int) string {
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(out) >= outputTail && len(lines) > 1 {
		lines = lines[1:]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// argvText shows a command as a list of quoted strings, as plans do.
func argvText(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// rangeText is file:line of a range.
func rangeText(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

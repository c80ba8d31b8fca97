package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// A Comparer runs Compare: in this process (InProcess) or in a process of
// its own (Worker).
type Comparer interface {
	Compare(ctx context.Context, a, b *redis.Client, o CompareOptions) (Result, error)
}

// InProcess runs Compare in this process.
type InProcess struct{}

// Compare is Compare.
func (InProcess) Compare(ctx context.Context, a, b *redis.Client, o CompareOptions) (Result, error) {
	return Compare(ctx, a, b, o)
}

// Worker runs Compare in a child process at a lower CPU priority, so that
// the comparison's CPU time and garbage collection do not hold back the
// goroutines of this process that measure the servers (the rehearsal's
// write probe and endpoint proxy) on a machine with few cores. Measured on
// two cores with a 1M-field hash and a 10 MB string: the probe's longest
// stall during an in-process comparison was 13–29 ms although no server
// command took more than 5 ms; a writer in another process saw at most
// 5.5 ms.
//
// The child is Command with its arguments; it must call ServeWorker. The
// request, credentials included, goes through the child's standard input,
// never its arguments or environment.
type Worker struct {
	Command []string
	// Nice is added to the child's niceness (0: none) when nice(1) is
	// found; every thread of the child inherits it.
	Nice int
	// Env is added to the child's environment (e.g. "GOMAXPROCS=1").
	Env []string
}

// workerRequest is what a Worker sends to its child.
type workerRequest struct {
	A, B    workerConn
	Options CompareOptions
}

// workerConn is how the child reaches a server.
type workerConn struct {
	Addr, Username, Password, ClientName string
	DB                                   int
	Protocol                             int
}

// workerReply is what the child answers.
type workerReply struct {
	Result Result
	Error  string `json:",omitempty"`
}

// errNotIsolable is returned for clients a child process cannot rebuild
// from their options.
var errNotIsolable = errors.New("the client has a TLS configuration, a dialer or a credentials provider")

func connOf(c *redis.Client) (workerConn, error) {
	o := c.Options()
	if o.TLSConfig != nil || o.CredentialsProvider != nil || o.CredentialsProviderContext != nil || o.StreamingCredentialsProvider != nil || o.Network == "unix" {
		return workerConn{}, errNotIsolable
	}
	return workerConn{Addr: o.Addr, Username: o.Username, Password: o.Password, ClientName: o.ClientName, DB: o.DB, Protocol: o.Protocol}, nil
}

// Compare runs Compare in a child process. Clients the child cannot rebuild
// (TLS, custom dialers) are compared in this process.
func (w *Worker) Compare(ctx context.Context, a, b *redis.Client, o CompareOptions) (Result, error) {
	ca, errA := connOf(a)
	cb, errB := connOf(b)
	if errA != nil || errB != nil || len(w.Command) == 0 {
		return Compare(ctx, a, b, o)
	}
	req, err := json.Marshal(workerRequest{A: ca, B: cb, Options: o})
	if err != nil {
		return Result{}, fmt.Errorf("compare worker: %w", err)
	}
	args := w.Command
	if w.Nice != 0 {
		if nice, err := exec.LookPath("nice"); err == nil {
			args = append([]string{nice, "-n", strconv.Itoa(w.Nice)}, args...)
		}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), w.Env...)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	var rep workerReply
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		detail := strings.TrimSpace(stderr.String())
		if runErr != nil {
			err = runErr
		}
		if detail != "" {
			return Result{}, fmt.Errorf("compare worker: %w: %s", err, lastLine(detail))
		}
		return Result{}, fmt.Errorf("compare worker: %w", err)
	}
	if rep.Error != "" {
		return Result{}, errors.New(rep.Error)
	}
	return rep.Result, nil
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// ServeWorker is the child side of a Worker: it reads one request from r,
// runs Compare and writes the result, or the error, to w. It returns an
// error only when it cannot read the request or write the reply.
func ServeWorker(ctx context.Context, r io.Reader, w io.Writer) error {
	var req workerRequest
	if err := json.NewDecoder(r).Decode(&req); err != nil {
		return fmt.Errorf("read the comparison request: %w", err)
	}
	a, b := req.A.client(), req.B.client()
	defer a.Close()
	defer b.Close()
	var rep workerReply
	res, err := Compare(ctx, a, b, req.Options)
	if err != nil {
		rep.Error = err.Error()
	} else {
		rep.Result = res
	}
	if err := json.NewEncoder(w).Encode(rep); err != nil {
		return fmt.Errorf("write the comparison result: %w", err)
	}
	return nil
}

func (c workerConn) client() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: c.Addr, Username: c.Username, Password: c.Password,
		ClientName: c.ClientName, DB: c.DB, Protocol: c.Protocol,
	})
}

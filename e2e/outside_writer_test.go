package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/jobqueue"
	"github.com/understudy/understudy/steps/report"
)

var endpointRe = regexp.MustCompile(`endpoint app listens on (127\.0\.0\.1:\d+)`)

// The shipped runbook passes while an application outside understudy writes
// db0 through the endpoint with its own go-redis clients (default retries):
// the verify steps compare its keys between the nodes like any other, the
// data check ignores keys that were not seeded, none of the outside
// writer's acknowledged writes is missing on the final master, and job-queue
// consumers waiting in BLPOP through the switchover pop every acknowledged
// push exactly once without freezing it.
func TestOutsideWriterOnDB0(t *testing.T) {
	password := "outside-writer-" + fmt.Sprint(time.Now().UnixNano())
	reportPath := filepath.Join(t.TempDir(), "report.json")
	run := start(t, 5*time.Minute, append(os.Environ(), "UNDERSTUDY_REHEARSAL_PASSWORD="+password),
		"rehearse", "runbooks/replica-swap.hcl", "--keys", "20000", "--report", reportPath)
	cmd, stdout, stderr := run.cmd, run.stdout, run.log

	var (
		client        *goredis.Client
		acked, failed atomic.Int64
		stop          = make(chan struct{})
		wg            sync.WaitGroup
		log           strings.Builder
		readBack      = make(chan error, 1)
		jobs          *jobqueue.Queue
		jobResult     jobqueue.Result
		stopped       bool
		stepLine      = regexp.MustCompile(`^step (\d+)/(\d+) `)
	)
	sc := bufio.NewScanner(stderr)
	sawLast := false
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if m := endpointRe.FindStringSubmatch(line); m != nil && client == nil {
			// The application: db0, default retries, its own keys.
			client = goredis.NewClient(&goredis.Options{Addr: m[1], Password: password})
			defer client.Close()
			jobs = jobqueue.Start(m[1], password, "app:jobs", 2, 10*time.Millisecond)
			wg.Go(func() {
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for i := int64(0); i < 100_000; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := client.Set(ctx, fmt.Sprintf("app:order:%d", i), fmt.Sprintf("v%d", i), 0).Err()
					cancel()
					if err != nil {
						failed.Add(1)
						continue
					}
					acked.Store(i + 1)
				}
			})
		}
		if m := stepLine.FindStringSubmatch(line); m != nil && m[1] == m[2] {
			sawLast = true
		}
		if sawLast && strings.HasPrefix(line, "  passed after") && !stopped {
			// The last step passed: stop writing and read everything back
			// from the final master through the endpoint, while the
			// rehearsal checks its own data.
			stopped = true
			close(stop)
			wg.Wait()
			err := readBackAll(client, acked.Load())
			var jerr error
			jobResult, jerr = jobs.Finish()
			if err == nil {
				err = jerr
			}
			readBack <- err
		}
	}
	if !stopped {
		close(stop)
		wg.Wait()
		if jobs != nil {
			_, _ = jobs.Finish()
		}
		readBack <- fmt.Errorf("the last step never passed")
	}
	err := cmd.Wait()
	if err != nil {
		t.Fatalf("rehearse: %v\n%s\n%s", err, stdout.String(), tail(log.String(), 60))
	}
	if client == nil {
		t.Fatal("no endpoint address in the log")
	}
	if err := <-readBack; err != nil {
		t.Errorf("the outside writer's writes: %v", err)
	}
	rep, err := report.Read(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "passed" || rep.Traffic.Lost != 0 || !rep.Data.Equal {
		t.Fatalf("status %s, lost %d, data %+v", rep.Status, rep.Traffic.Lost, rep.Data)
	}
	t.Logf("job queue, 2 consumers in BLPOP: %s", jobResult)
	if jobResult.Pushed < 100 {
		t.Errorf("only %d jobs pushed", jobResult.Pushed)
	}
	// The consumers blocked at the switch did not freeze it.
	if p := stepByName(rep, "promote"); p == nil || p.MaxStallMS == nil || *p.MaxStallMS > 500 {
		t.Errorf("the switchover with blocked consumers: %+v", p)
	} else {
		t.Logf("switchover with blocked consumers: longest write stall %.1f ms", *p.MaxStallMS)
	}
	if acked.Load() < 500 || failed.Load() != 0 {
		t.Errorf("the outside writer: %d acked, %d failed", acked.Load(), failed.Load())
	}
	for _, name := range []string{"replica_matches", "same_data"} {
		s := stepByName(rep, name)
		if s == nil || s.Status != "passed" {
			t.Errorf("step %s: %+v", name, s)
			continue
		}
		t.Logf("step %s: %s", name, strings.Join(strings.Fields(string(s.Output)), " "))
	}
	t.Logf("outside writer: %d acked, %d failed; data check %s: %d seeded keys, %d on the final master", acked.Load(), failed.Load(), rep.Data.Method, rep.Data.SeededKeys, rep.Data.FinalKeys)
}

// readBackAll checks that the first n outside writes are on the final
// master, read through the endpoint.
func readBackAll(c *goredis.Client, n int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	missing := 0
	for from := int64(0); from < n; from += 500 {
		keys := make([]string, 0, 500)
		for i := from; i < min(from+500, n); i++ {
			keys = append(keys, fmt.Sprintf("app:order:%d", i))
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("MGET: %w", err)
		}
		for i, v := range vals {
			if v != fmt.Sprintf("v%d", from+int64(i)) {
				missing++
			}
		}
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d acknowledged writes missing or wrong on the final master", missing, n)
	}
	return nil
}

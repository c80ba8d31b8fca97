package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestApplyDockerRolling applies the shipped docker-rolling.hcl to two
// containers the test started as an operator would (a 7.0 master and its
// 7.0 replica attached with REPLICAOF, each with its data on a volume), with
// an independent writer that follows the endpoint file: the runbook's
// lifecycle commands (docker-node.sh) replace each container by an 8.0 one
// keeping its volume, port and password; both nodes end on 8.0 with the
// data, the writer loses nothing.
func TestApplyDockerRolling(t *testing.T) {
	password := fmt.Sprintf("rolling-%d", time.Now().UnixNano())
	var primary, replica *dockerNode
	var wg sync.WaitGroup
	wg.Go(func() { primary = startDockerNode(t, "primary", "understudy/redis:7.0", password) })
	wg.Go(func() { replica = startDockerNode(t, "replica", "understudy/redis:7.0", password) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ctx := context.Background()
	pc := primary.client()
	defer pc.Close()
	pipe := pc.Pipeline()
	for i := 0; i < 20_000; i++ {
		pipe.Set(ctx, fmt.Sprintf("app:data:%d", i), i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	replica.replicaOf(t, primary)

	file := endpointFile(t.TempDir() + "/endpoint")
	file.write(t, primary.addr)
	lb := startForwarder(t, file)
	env := append(os.Environ(),
		"PRIMARY_ADDRESS="+primary.addr, "REPLICA_ADDRESS="+replica.addr, "REDIS_PASSWORD="+password,
		"PRIMARY_CONTAINER="+primary.name, "REPLICA_CONTAINER="+replica.name,
		"ENDPOINT_FILE="+string(file), "APP_ADDRESS="+lb.addr())

	w := startFileWriter(t, file, password, "app:writer:")
	time.Sleep(500 * time.Millisecond)
	res := applyRun(t, env, "apply", "runbooks/docker-rolling.hcl", "--var", "from=7.0", "--var", "to=8.0", "--auto-approve")
	rc := replica.client()
	defer rc.Close()
	acked, lost := w.finish(t, rc)
	stall, failed, errs := w.stats()
	t.Logf("apply: exit %d\n%s", res.code, res.stdout)
	if res.code != 0 || res.report == nil || res.report.Status != "passed" {
		t.Fatalf("apply: exit %d\n%s\n%s", res.code, res.stdout, tail(res.stderr, 60))
	}
	for _, step := range []string{"replica", "old_primary"} {
		if s := stepByName(res.report, step); s == nil || s.Status != "passed" {
			t.Errorf("upgrade step %s: %+v", step, s)
		}
	}

	// Both nodes on 8.0, each in its own container of the new image with
	// its old volume; the replica is the master now, the old primary its
	// replica.
	for _, n := range []*dockerNode{primary, replica} {
		c := n.client()
		info, err := c.Info(ctx, "server").Result()
		c.Close()
		if err != nil || !strings.Contains(info, "redis_version:8.0.") {
			t.Errorf("%s: INFO server %v\n%s", n.name, err, info)
		}
		if image := n.inspect(t, "{{.Config.Image}}"); image != "understudy/redis:8.0" {
			t.Errorf("%s runs %s", n.name, image)
		}
		if vol := n.inspect(t, `{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}`); vol != n.volume+":/data" {
			t.Errorf("%s mounts %q, want its volume %s at /data", n.name, vol, n.volume)
		}
		if keys := n.loadedKeys(t); keys < 20_000 {
			t.Errorf("%s: the 8.0 server loaded %d keys from its volume at start, want the 20000 and more the 7.0 one saved", n.name, keys)
		}
		if got := nodeByName(res.report, map[*dockerNode]string{primary: "primary", replica: "replica"}[n]); got == nil || !strings.HasPrefix(got.VersionAfter, "8.0.") {
			t.Errorf("report: node %s %+v", n.name, got)
		}
	}
	if r := roleOf(t, &liveServer{addr: primary.addr, password: password}); r != "slave" {
		t.Errorf("old primary is %s, want a replica of the upgraded replica", r)
	}
	if got, _ := file.read(); got != replica.addr {
		t.Errorf("endpoint file holds %q, want the replica %s", got, replica.addr)
	}

	// The data, on both.
	for _, n := range []*dockerNode{replica, primary} {
		c := n.client()
		for _, key := range []string{"app:data:0", "app:data:19999"} {
			if v, err := c.Get(ctx, key).Result(); err != nil || v != strings.TrimPrefix(key, "app:data:") {
				t.Errorf("%s: %s = %q (%v)", n.name, key, v, err)
			}
		}
		keys, err := c.Keys(ctx, "app:data:*").Result()
		if err != nil || len(keys) != 20_000 {
			t.Errorf("%s holds %d app:data keys (%v), want 20000", n.name, len(keys), err)
		}
		c.Close()
	}

	tr := res.report.Traffic
	if tr == nil || tr.Acked < 100 || tr.Lost != 0 {
		t.Errorf("canary: %+v", tr)
	} else {
		t.Logf("canary: %d acknowledged, %d lost, %d failed, longest stall %.1f ms", tr.Acked, tr.Lost, tr.Failed, tr.MaxStallMS)
	}
	t.Logf("independent writer: %d acknowledged, %d lost, %d failed, longest stall %.1f ms %v", acked, lost, failed, float64(stall.Microseconds())/1000, errs)
	if acked < 500 || lost != 0 || failed != 0 {
		t.Errorf("independent writer: %d acknowledged, %d lost, %d failed", acked, lost, failed)
	}
}

// TestApplyDockerRollingPlan: plan says what the lifecycle commands run
// live; a runbook that upgrades nodes without a lifecycle block is valid
// (a rehearsal needs none) and its plan warns that apply will refuse it.
func TestApplyDockerRollingPlan(t *testing.T) {
	for _, tc := range []struct {
		runbook string
		want    []string
	}{
		{"runbooks/docker-rolling.hcl", []string{
			`live: runs the lifecycle upgrade command ["./docker-node.sh", "upgrade", "redis-replica", "redis-2.internal:6379", "8.0"] (from the runbook's directory), then waits until node.replica answers PING and reports 8.0; 4m0s at most for both`,
		}},
		{"runbooks/k8s-statefulset.hcl", []string{
			`"upgrade-pod", "default", "redis-1", "8.0"] (from the runbook's directory), then waits until node.redis-1 answers PING and reports 8.0; 10m0s at most for both`,
		}},
		{"runbooks/rolling-upgrade.hcl", []string{
			`live: refused, node.replica has no lifecycle block to upgrade it with (a rehearsal does not need one)`,
			`Warning: step upgrade "replica" (runbooks/rolling-upgrade.hcl:53) upgrades node "replica", which has no lifecycle block: apply will refuse it`,
		}},
	} {
		res := understudy(t, time.Minute, "validate", tc.runbook)
		if res.code != 0 {
			t.Errorf("validate %s: exit %d\n%s", tc.runbook, res.code, res.stderr)
		}
		res = understudy(t, time.Minute, "plan", tc.runbook, "--var", "from=7.0", "--var", "to=8.0")
		if res.code != 0 {
			t.Errorf("plan %s: exit %d\n%s", tc.runbook, res.code, res.stderr)
		}
		for _, want := range tc.want {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("plan %s lacks %q:\n%s", tc.runbook, want, res.stdout)
			}
		}
	}
}

package container

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Environment variables read by testcontainers-go.
const (
	envRyukDisabled = "TESTCONTAINERS_RYUK_DISABLED"
	envHostOverride = "TESTCONTAINERS_HOST_OVERRIDE"
)

var (
	setupOnce sync.Once
	errSetup  error
)

// setup prepares testcontainers-go before its first use in this process:
// Ryuk disabled (its image comes from a registry; cleanup is done through
// labels instead, see cleanup.go) and the Docker host address pinned to
// loopback, unless the user set either variable.
//
// testcontainers-go reads its configuration once per process and caches it
// (internal/config.Read behind a sync.Once), so the variables only take
// effect when set before the first testcontainers call; setup checks that
// they did.
func setup() error {
	setupOnce.Do(func() { errSetup = configureTestcontainers() })
	return errSetup
}

func configureTestcontainers() error {
	if v, ok := os.LookupEnv(envRyukDisabled); !ok {
		if err := os.Setenv(envRyukDisabled, "true"); err != nil {
			return err
		}
	} else if b, err := strconv.ParseBool(v); err == nil && b && v != "true" {
		// testcontainers-go accepts any boolean spelling but only the
		// literal "true" disables Ryuk ("1" or "TRUE" leave it enabled).
		if err := os.Setenv(envRyukDisabled, "true"); err != nil {
			return err
		}
	}
	if _, ok := os.LookupEnv(envHostOverride); !ok {
		if err := os.Setenv(envHostOverride, "127.0.0.1"); err != nil {
			return err
		}
	}
	want := os.Getenv(envRyukDisabled) == "true"
	if got := testcontainers.ReadConfig().RyukDisabled; got != want {
		return fmt.Errorf("testcontainers read its configuration before understudy could set %s=%s; set it in the environment", envRyukDisabled, os.Getenv(envRyukDisabled))
	}
	return nil
}

// dockerClient connects to the Docker engine the way testcontainers-go
// does (DOCKER_HOST, docker context, ~/.testcontainers.properties). The
// caller closes it.
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	if err := setup(); err != nil {
		return nil, err
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to docker: %w", err)
	}
	return cli, nil
}

// imageExists reports whether the engine has the image ref.
func imageExists(ctx context.Context, ref string) (bool, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return false, err
	}
	defer cli.Close()
	return hasImage(ctx, cli, ref)
}

// hasImage reports whether the engine has the image ref. It only inspects:
// nothing is pulled.
func hasImage(ctx context.Context, cli *testcontainers.DockerClient, ref string) (bool, error) {
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		if cerrdefs.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return true, nil
}

// imageChecker answers whether images exist in the engine over one
// connection, asking once per reference. It never pulls.
type imageChecker struct {
	cli  *testcontainers.DockerClient
	seen map[string]bool
}

func newImageChecker(ctx context.Context) (*imageChecker, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	return &imageChecker{cli: cli, seen: map[string]bool{}}, nil
}

func (c *imageChecker) exists(ctx context.Context, ref string) (bool, error) {
	if ok, found := c.seen[ref]; found {
		return ok, nil
	}
	ok, err := hasImage(ctx, c.cli, ref)
	if err != nil {
		return false, err
	}
	c.seen[ref] = ok
	return ok, nil
}

func (c *imageChecker) close() { _ = c.cli.Close() }

// ensureImage pulls ref when the engine does not have it. It makes one
// attempt: testcontainers-go retries a failed pull with exponential backoff
// for up to 15 minutes, which is how an unreachable registry would look.
func ensureImage(ctx context.Context, ref string) error {
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if ok, err := hasImage(ctx, cli, ref); err != nil || ok {
		return err
	}
	resp, err := cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
		_ = resp.Close()
	}
	if err != nil {
		return fmt.Errorf("pull image %s (no registry reachable? build local images with \"make images\" and set %s=%s): %w",
			ref, EnvImages, SourceLocal, err)
	}
	return nil
}

// removeContainer force-removes a container; one that is already gone is
// not an error.
func removeContainer(ctx context.Context, cli *testcontainers.DockerClient, id string) error {
	_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %.12s: %w", id, err)
	}
	return nil
}

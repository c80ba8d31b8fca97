package container

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/understudy/understudy/steps/redis"
)

func TestParseSource(t *testing.T) {
	for in, want := range map[string]Source{
		"":           SourceAuto,
		"auto":       SourceAuto,
		"LOCAL":      SourceLocal,
		" official ": SourceOfficial,
	} {
		got, err := ParseSource(in)
		if err != nil || got != want {
			t.Errorf("ParseSource(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestSourceFromEnv(t *testing.T) {
	t.Setenv(EnvImages, "official")
	if s, err := SourceFromEnv(); err != nil || s != SourceOfficial {
		t.Fatalf("SourceFromEnv = %q, %v; want official", s, err)
	}

	t.Setenv(EnvImages, "")
	if s, err := SourceFromEnv(); err != nil || s != SourceAuto {
		t.Fatalf("SourceFromEnv with empty value = %q, %v; want auto", s, err)
	}

	t.Setenv(EnvImages, "registry")
	_, err := SourceFromEnv()
	if err == nil {
		t.Fatal("SourceFromEnv accepted UNDERSTUDY_IMAGES=registry")
	}
	for _, want := range []string{`UNDERSTUDY_IMAGES: image source "registry" is not valid`, `"auto"`, `"local"`, `"official"`} {
		mustContain(t, err.Error(), want)
	}

	// Run refuses to start anything with an invalid setting.
	_, err = Run(testCtx(t), "n", redis.MustParseVersion("7.0"))
	if err == nil {
		t.Fatal("Run started a node with UNDERSTUDY_IMAGES=registry")
	}
	mustContain(t, err.Error(), "UNDERSTUDY_IMAGES")
}

// TestCatalogImage asks the real engine, which has the local images of
// images/build.sh and no registry.
func TestCatalogImage(t *testing.T) {
	ctx := testCtx(t)
	tests := []struct {
		source  Source
		version string
		want    string // image, or a part of the error
		wantErr bool
	}{
		{SourceOfficial, "7.0", "redis:7.0", false},
		{SourceOfficial, "7.0.15", "redis:7.0.15", false},
		{SourceOfficial, "valkey:8.1", "valkey/valkey:8.1", false},
		{SourceOfficial, "6.0", "redis:6.0", false},

		{SourceLocal, "6.0", "understudy/redis:6.0", false},
		{SourceLocal, "7.0", "understudy/redis:7.0", false},
		{SourceLocal, "8.0", "understudy/redis:8.0", false},
		{SourceLocal, "valkey:8.1", "understudy/valkey:8.1", false},
		{SourceLocal, "7.2", "images/build.sh builds 6.0, 7.0, 8.0, valkey:8.1", true},
		{SourceLocal, "7.0.15", `write "7.0"`, true},

		{SourceAuto, "7.0", "understudy/redis:7.0", false},
		{SourceAuto, "valkey:8.1", "understudy/valkey:8.1", false},
		{SourceAuto, "7.2", "redis:7.2", false},
		{SourceAuto, "valkey:9.0", "valkey/valkey:9.0", false},
		{SourceAuto, "7.0.15", "redis:7.0.15", false},
		{"", "8.0", "understudy/redis:8.0", false},

		{"registry", "7.0", `image source "registry" is not valid`, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.source)+"/"+tt.version, func(t *testing.T) {
			got, err := Catalog{Source: tt.source}.Image(ctx, redis.MustParseVersion(tt.version))
			switch {
			case tt.wantErr && err == nil:
				t.Fatalf("Image = %q, want an error containing %q", got, tt.want)
			case tt.wantErr:
				mustContain(t, err.Error(), tt.want)
			case err != nil:
				t.Fatalf("Image: %v", err)
			case got != tt.want:
				t.Fatalf("Image = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCatalogMissingLocalImage(t *testing.T) {
	ctx := testCtx(t)
	c := Catalog{Source: SourceLocal, localRepo: "understudy-test-absent"}
	_, err := c.Image(ctx, redis.MustParseVersion("7.0"))
	if err == nil {
		t.Fatal("Image found a local image that does not exist")
	}
	for _, want := range []string{"understudy-test-absent/redis:7.0", "not found", "make images", "images/build.sh redis:7.0"} {
		mustContain(t, err.Error(), want)
	}

	// Auto falls back to the official image.
	c.Source = SourceAuto
	got, err := c.Image(ctx, redis.MustParseVersion("7.0"))
	if err != nil || got != "redis:7.0" {
		t.Fatalf("auto without a local image = %q, %v; want redis:7.0", got, err)
	}
}

// TestKnown: the catalog knows exactly the images images/build.sh builds.
func TestKnown(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "..", "images", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ALL=\(([^)]*)\)`).FindSubmatch(script)
	if m == nil {
		t.Fatal("images/build.sh has no ALL=(...) list")
	}
	var names []string
	for _, v := range Known() {
		names = append(names, string(v.Engine)+":"+strings.TrimPrefix(v.Series().String(), "valkey:"))
	}
	if got, want := strings.Join(names, " "), string(m[1]); got != want {
		t.Fatalf("Known() = %s; images/build.sh builds %s", got, want)
	}
}

func TestServerConfig(t *testing.T) {
	c6 := serverConfig(redis.MustParseVersion("6.0"), 7001, "secret", "")
	c7 := serverConfig(redis.MustParseVersion("7.0"), 7001, "secret", "127.0.0.1 7002")
	cv := serverConfig(redis.MustParseVersion("valkey:8.1"), 7001, "", "")
	for _, want := range []string{"bind 127.0.0.1\n", "port 7001\n", "dir /data\n", `requirepass "secret"`, `masterauth "secret"`, "daemonize no\n", "logfile \"\"\n"} {
		mustContain(t, c6, want)
	}
	if strings.Contains(c6, "enable-debug-command") {
		t.Errorf("6.0 config enables DEBUG, which 6.0 rejects as an unknown directive:\n%s", c6)
	}
	mustContain(t, c7, "enable-debug-command yes\n")
	mustContain(t, c7, "replicaof 127.0.0.1 7002\n")
	if strings.Contains(c6, "replicaof") {
		t.Errorf("config of a master names a master:\n%s", c6)
	}
	mustContain(t, cv, "enable-debug-command yes\n")
	if strings.Contains(cv, "requirepass") {
		t.Errorf("config without password sets requirepass:\n%s", cv)
	}
	if strings.Contains(c7, "\nsave ") {
		t.Errorf("config overrides the default save points:\n%s", c7)
	}
}

func TestQuoteConfigArg(t *testing.T) {
	for in, want := range map[string]string{
		"abc":       `"abc"`,
		`a"b`:       `"a\"b"`,
		`a\b`:       `"a\\b"`,
		"a b\n\x01": `"a b\x0a\x01"`,
	} {
		if got := quoteConfigArg(in); got != want {
			t.Errorf("quoteConfigArg(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestCheckImages asks the real engine, which has the local images of
// images/build.sh (understudy/redis:6.0, 7.0, 8.0, understudy/valkey:8.1)
// and no registry. It must not start a container nor pull an image.
func TestCheckImages(t *testing.T) {
	ctx := testCtx(t)
	before := countOwnContainers(t, ctx)
	versions := func(vs ...string) []redis.Version {
		out := make([]redis.Version, len(vs))
		for i, v := range vs {
			out[i] = redis.MustParseVersion(v)
		}
		return out
	}
	// Official images of the local series are not expected here, but a
	// machine may have pulled one: the expectation follows the engine.
	officialPresent := func(ref string) bool {
		ok, err := imageExists(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	const absent = "understudy-test-absent"
	tests := []struct {
		name     string
		catalog  Catalog
		versions []redis.Version
		want     []string // parts of the error; none: no error
		not      []string // not in the error
	}{
		{name: "local images exist", catalog: Catalog{Source: SourceLocal},
			versions: versions("7.0", "valkey:8.1", "7.0", "6.0", "8.0")},
		{name: "auto finds the local images", catalog: Catalog{Source: SourceAuto},
			versions: versions("6.0", "8.0")},
		{name: "zero source is auto", versions: versions("valkey:8.1")},
		{name: "no versions", catalog: Catalog{Source: SourceLocal, localRepo: absent}},

		{name: "local images missing", catalog: Catalog{Source: SourceLocal, localRepo: absent},
			versions: versions("7.0", "valkey:8.1", "7.0"),
			want: []string{"missing for 2 of 2 versions", "UNDERSTUDY_IMAGES=local", "nothing was started",
				"7.0: local image " + absent + "/redis:7.0 not found",
				"valkey:8.1: local image " + absent + "/valkey:8.1 not found",
				"build them with: images/build.sh redis:7.0 valkey:8.1 (", "make images"},
			not: []string{"redis:7.0 redis:7.0", "docker pull"}},
		{name: "local without a recipe", catalog: Catalog{Source: SourceLocal},
			versions: versions("7.0", "7.2", "7.0.15"),
			want: []string{"missing for 2 of 3 versions", "images/build.sh builds 6.0, 7.0, 8.0, valkey:8.1",
				"7.2: no local image recipe; set UNDERSTUDY_IMAGES=official to use the official redis:7.2",
				`7.0.15: local images are built per series: write "7.0"`},
			not: []string{"build them with", "7.0: "}},
		{name: "auto with made-up versions", catalog: Catalog{Source: SourceAuto},
			versions: versions("valkey:9.9", "7.0.99", "8.0"),
			want: []string{"missing for 2 of 3 versions", "UNDERSTUDY_IMAGES=auto",
				"valkey:9.9: no local image recipe, and the official image valkey/valkey:9.9 is not in the Docker engine",
				"7.0.99: official image redis:7.0.99 not found",
				"docker pull valkey/valkey:9.9 && docker pull redis:7.0.99", "no registry may be reachable",
				"images/build.sh builds 6.0, 7.0, 8.0, valkey:8.1"},
			not: []string{"8.0:", "build them with"}},
		{name: "official without a recipe", catalog: Catalog{Source: SourceOfficial},
			versions: versions("9.8"),
			want: []string{"missing for 1 of 1 versions", "9.8: official image redis:9.8 not found, and 9.8 has no local image recipe",
				"Run would pull them from a registry, and no registry may be reachable: pull them first (docker pull redis:9.8)",
				"images/build.sh builds only 6.0, 7.0, 8.0, valkey:8.1"},
			not: []string{"then set UNDERSTUDY_IMAGES=local"}},
	}
	if officialPresent("redis:7.0") {
		t.Log("redis:7.0 was pulled on this machine: auto falls back to it")
		tests = append(tests, struct {
			name     string
			catalog  Catalog
			versions []redis.Version
			want     []string
			not      []string
		}{name: "auto falls back to the official image", catalog: Catalog{Source: SourceAuto, localRepo: absent}, versions: versions("7.0")})
	} else {
		tests = append(tests, []struct {
			name     string
			catalog  Catalog
			versions []redis.Version
			want     []string
			not      []string
		}{
			{name: "auto without local nor official image", catalog: Catalog{Source: SourceAuto, localRepo: absent},
				versions: versions("7.0"),
				want: []string{"missing for 1 of 1 versions",
					"7.0: neither the local image " + absent + "/redis:7.0 nor the official redis:7.0 is in the Docker engine",
					"build them with: images/build.sh redis:7.0 ("}},
			{name: "official images missing", catalog: Catalog{Source: SourceOfficial},
				versions: versions("7.0", "7.2"),
				want: []string{"missing for 2 of 2 versions", "UNDERSTUDY_IMAGES=official",
					"7.0: official image redis:7.0 not found (the local understudy/redis:7.0 can replace it)",
					"7.2: official image redis:7.2 not found, and 7.2 has no local image recipe",
					"Run would pull them from a registry, and no registry may be reachable",
					"docker pull redis:7.0 && docker pull redis:7.2",
					"rehearse offline with local images: images/build.sh redis:7.0 (", "then set UNDERSTUDY_IMAGES=local",
					"images/build.sh builds only 6.0, 7.0, 8.0, valkey:8.1"},
				not: []string{"versions without a local image recipe"}},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.catalog.CheckImages(ctx, tt.versions)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("CheckImages: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckImages found every image; want an error containing %q", tt.want)
			}
			t.Logf("error:\n%v", err)
			for _, w := range tt.want {
				mustContain(t, err.Error(), w)
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error contains %q", n)
				}
			}
		})
	}

	if err := (Catalog{Source: "registry"}).CheckImages(ctx, versions("7.0")); err == nil {
		t.Error("CheckImages accepted the image source \"registry\"")
	} else {
		mustContain(t, err.Error(), `image source "registry" is not valid`)
	}

	if after := countOwnContainers(t, ctx); after != before {
		t.Fatalf("CheckImages changed the containers of this process: %d before, %d after", before, after)
	}
	for _, ref := range []string{"valkey/valkey:9.9", "redis:7.0.99", "redis:9.8"} {
		if officialPresent(ref) {
			t.Errorf("CheckImages pulled %s", ref)
		}
	}
}

// countOwnContainers counts the node containers, running or not, that this
// test process started (label org.understudy.pid). Parallel tests wait
// until the sequential ones end, so a sequential test sees only its own.
func countOwnContainers(t *testing.T, ctx context.Context) int {
	t.Helper()
	cli, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	list, err := listNodes(ctx, cli, LabelPID+"="+strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// Nodes started at once never get the same port: freePort hands out each
// port once per process, though the kernel may offer a closed probe's
// port to the next probe (ten cluster nodes once got one port for two).
func TestFreePortsDistinct(t *testing.T) {
	const n = 200
	ports := make(chan int, 3*n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			p, err := freePort()
			if err != nil {
				t.Error(err)
				return
			}
			ports <- p
			if q, err := freeClusterPort(); err != nil {
				t.Error(err)
			} else {
				ports <- q
				ports <- q + clusterBusOffset
			}
		})
	}
	wg.Wait()
	close(ports)
	seen := map[int]bool{}
	for p := range ports {
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

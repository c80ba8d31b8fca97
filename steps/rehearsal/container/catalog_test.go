package container

import (
	"github.com/understudy/understudy/steps/redis"
	"strings"
	"testing"
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

func TestKnown(t *testing.T) {
	var names []string
	for _, v := range Known() {
		names = append(names, v.String())
	}
	if got := strings.Join(names, " "); got != "6.0 7.0 8.0 valkey:8.1" {
		t.Fatalf("Known() = %s", got)
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

package container

import (
	"context"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"os"
	"strings"
)

// EnvImages is the environment variable that chooses where node images come
// from: "auto" (the default), "local" or "official".
const EnvImages = "UNDERSTUDY_IMAGES"

// Source says where the images of rehearsal nodes come from.
type Source string

// The image sources.
const (
	// SourceAuto uses the local image of a version when it has been built,
	// and the official image otherwise.
	SourceAuto Source = "auto"
	// SourceLocal uses only the understudy/* images built from Debian
	// packages by images/build.sh ("make images").
	SourceLocal Source = "local"
	// SourceOfficial uses only the official images (redis:X.Y,
	// valkey/valkey:X.Y), pulled from a registry when missing.
	SourceOfficial Source = "official"
)

// ParseSource reads a Source as a user writes it; the empty string is
// SourceAuto.
func ParseSource(s string) (Source, error) {
	switch src := Source(strings.ToLower(strings.TrimSpace(s))); src {
	case "":
		return SourceAuto, nil
	case SourceAuto, SourceLocal, SourceOfficial:
		return src, nil
	}
	return "", fmt.Errorf("image source %q is not valid: use %q (the local image when it was built, else the official one), %q (only images built by make images) or %q (only official images from a registry)",
		s, SourceAuto, SourceLocal, SourceOfficial)
}

// SourceFromEnv reads the image source from UNDERSTUDY_IMAGES.
func SourceFromEnv() (Source, error) {
	s, err := ParseSource(os.Getenv(EnvImages))
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvImages, err)
	}
	return s, nil
}

// known lists the versions images/build.sh can build locally, by series.
var known = []redis.Version{
	{Engine: redis.EngineRedis, Major: 6, Minor: 0, Patch: -1},
	{Engine: redis.EngineRedis, Major: 7, Minor: 0, Patch: -1},
	{Engine: redis.EngineRedis, Major: 8, Minor: 0, Patch: -1},
	{Engine: redis.EngineValkey, Major: 8, Minor: 1, Patch: -1},
}

// Known returns the versions that have a local image recipe
// (images/build.sh), by series.
func Known() []redis.Version {
	return append([]redis.Version(nil), known...)
}

func isKnown(v redis.Version) bool {
	for _, k := range known {
		if k == v.Series() {
			return true
		}
	}
	return false
}

func knownList() string {
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = k.String()
	}
	return strings.Join(names, ", ")
}

// Catalog maps an engine and version to the image a rehearsal node runs.
//
// Local images are built per series (understudy/redis:7.0 holds the 7.0
// release Debian ships), so a version with a patch level ("7.0.15") always
// maps to the official tag of that patch level.
type Catalog struct {
	// Source chooses between local and official images; the zero value is
	// SourceAuto.
	Source Source

	localRepo string // "understudy" unless a test changes it
}

// CatalogFromEnv returns the catalog that UNDERSTUDY_IMAGES selects.
func CatalogFromEnv() (Catalog, error) {
	s, err := SourceFromEnv()
	if err != nil {
		return Catalog{}, err
	}
	return Catalog{Source: s}, nil
}

// OfficialImage returns the official image reference of v: redis:X.Y[.Z] or
// valkey/valkey:X.Y[.Z].
func OfficialImage(v redis.Version) (string, error) {
	tag := strings.TrimPrefix(v.String(), "valkey:")
	switch v.Engine {
	case redis.EngineRedis:
		return "redis:" + tag, nil
	case redis.EngineValkey:
		return "valkey/valkey:" + tag, nil
	}
	return "", fmt.Errorf("no image for engine %q", v.Engine)
}

// LocalImage returns the reference of the image images/build.sh builds for
// the series of v: understudy/redis:X.Y or understudy/valkey:X.Y.
func LocalImage(v redis.Version) (string, error) { return Catalog{}.localImage(v) }

func (c Catalog) localImage(v redis.Version) (string, error) {
	repo := c.localRepo
	if repo == "" {
		repo = "understudy"
	}
	switch v.Engine {
	case redis.EngineRedis, redis.EngineValkey:
	default:
		return "", fmt.Errorf("no image for engine %q", v.Engine)
	}
	s := v.Series()
	return fmt.Sprintf("%s/%s:%d.%d", repo, s.Engine, s.Major, s.Minor), nil
}

// Image returns the image reference for v. With SourceAuto it asks the
// Docker engine whether the local image exists; with SourceLocal a missing
// image is an error that says how to build it. The official image is not
// pulled here: Run pulls it when it starts the node.
func (c Catalog) Image(ctx context.Context, v redis.Version) (string, error) {
	src := c.Source
	if src == "" {
		src = SourceAuto
	}
	switch src {
	case SourceOfficial:
		return OfficialImage(v)
	case SourceLocal:
		return c.localImageChecked(ctx, v)
	case SourceAuto:
		if v.Patch >= 0 || !isKnown(v) {
			return OfficialImage(v)
		}
		ref, err := c.localImage(v)
		if err != nil {
			return "", err
		}
		ok, err := imageExists(ctx, ref)
		if err != nil {
			return "", err
		}
		if ok {
			return ref, nil
		}
		return OfficialImage(v)
	}
	_, err := ParseSource(string(src))
	return "", err
}

func (c Catalog) localImageChecked(ctx context.Context, v redis.Version) (string, error) {
	ref, err := c.localImage(v)
	if err != nil {
		return "", err
	}
	if v.Patch >= 0 {
		return "", fmt.Errorf("version %s: local images are built per series; write %q, or set %s=%s to use the official %s image",
			v, v.Series(), EnvImages, SourceOfficial, v)
	}
	if !isKnown(v) {
		return "", fmt.Errorf("version %s has no local image recipe (images/build.sh builds %s); set %s=%s to use the official image",
			v, knownList(), EnvImages, SourceOfficial)
	}
	ok, err := imageExists(ctx, ref)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("local image %s for %s not found: build it with \"make images\" (or images/build.sh %s:%d.%d)",
			ref, v, v.Engine, v.Major, v.Minor)
	}
	return ref, nil
}

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/understudy/understudy/steps/redis"
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
	{Engine: redis.EngineValkey, Major: 9, Minor: 1, Patch: -1},
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
	src, err := ParseSource(string(c.Source))
	if err != nil {
		return "", err
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
	return "", fmt.Errorf("image source %q is not valid", src) // ParseSource returns only the sources above
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
		return "", fmt.Errorf("local image %s for %s not found: build it with \"make images\" (or %s)",
			ref, v, buildCommand([]string{buildArg(v)}))
	}
	return ref, nil
}

// buildArg is the argument of images/build.sh that builds the local image
// of v's series: "redis:7.0", "valkey:8.1".
func buildArg(v redis.Version) string {
	return fmt.Sprintf("%s:%d.%d", v.Engine, v.Major, v.Minor)
}

// buildCommand is the command, run from the repository root, that builds
// the local images of args (buildArg values). images/build.sh tags them
// understudy/<engine>:<X.Y> and skips the ones that exist.
func buildCommand(args []string) string {
	return "images/build.sh " + strings.Join(args, " ")
}

// CheckImages checks, before any node starts, that the image of every
// version (duplicates counted once) is in the Docker engine, resolving each
// as Image does. It inspects images only: it starts nothing and pulls
// nothing. It returns nil when every image is present, the engine's error
// when it cannot be asked, and otherwise one error that lists every
// version whose image is missing, with what to do:
//
//   - SourceLocal: the missing understudy/* images and the command that
//     builds them (images/build.sh engine:X.Y ..., or "make images" for all);
//     a version without a local recipe (not in Known, or with a patch level)
//     gets its own message naming the versions that can be built.
//   - SourceAuto: a version whose local image exists is fine; otherwise its
//     official image must exist (Run would pull it, and no registry may be
//     reachable). When neither does, both names and the build command are
//     given. Versions without a local recipe need their official image.
//   - SourceOfficial: the missing official images, that Run would pull them
//     from a registry that may not be reachable, the docker pull commands,
//     and how to rehearse offline instead: build the local images and set
//     UNDERSTUDY_IMAGES=local.
func (c Catalog) CheckImages(ctx context.Context, versions []redis.Version) error {
	src, err := ParseSource(string(c.Source))
	if err != nil {
		return err
	}
	var uniq []redis.Version
	for _, v := range versions {
		if !slices.Contains(uniq, v) {
			uniq = append(uniq, v)
		}
	}
	if len(uniq) == 0 {
		return nil
	}
	chk, err := newImageChecker(ctx)
	if err != nil {
		return fmt.Errorf("check images: %w", err)
	}
	defer chk.close()
	exists := func(ref string) (bool, error) {
		ok, err := chk.exists(ctx, ref)
		if err != nil {
			return false, fmt.Errorf("check images: %w", err)
		}
		return ok, nil
	}

	var (
		missing  []string // lines: a version whose image can be built (all missing ones with SourceOfficial)
		build    []string // images/build.sh arguments of the ones that can be built
		noRecipe []string // lines: a version without a local recipe
		pull     []string // official images that Run would have to pull

		officialNoRecipe bool // SourceOfficial: a missing version cannot be built
	)
	addBuild := func(v redis.Version) {
		if a := buildArg(v); !slices.Contains(build, a) {
			build = append(build, a)
		}
	}
	addPull := func(ref string) {
		if !slices.Contains(pull, ref) {
			pull = append(pull, ref)
		}
	}
	for _, v := range uniq {
		official, err := OfficialImage(v)
		if err != nil {
			noRecipe = append(noRecipe, fmt.Sprintf("%s: %v", v, err))
			continue
		}
		local, _ := c.localImage(v) // the engine is valid: OfficialImage said so
		recipe := v.Patch < 0 && isKnown(v)
		switch src {
		case SourceLocal:
			switch {
			case v.Patch >= 0:
				noRecipe = append(noRecipe, fmt.Sprintf("%s: local images are built per series: write %q to use %s, or set %s=%s to use the official %s",
					v, v.Series(), local, EnvImages, SourceOfficial, official))
			case !recipe:
				noRecipe = append(noRecipe, fmt.Sprintf("%s: no local image recipe; set %s=%s to use the official %s (pulled from a registry)",
					v, EnvImages, SourceOfficial, official))
			default:
				ok, err := exists(local)
				if err != nil {
					return err
				}
				if !ok {
					missing = append(missing, fmt.Sprintf("%s: local image %s not found", v, local))
					addBuild(v)
				}
			}

		case SourceOfficial:
			ok, err := exists(official)
			if err != nil {
				return err
			}
			if ok {
				continue
			}
			// Listed together: the remedy (pull, or switch to local
			// images) is the same for all of them.
			addPull(official)
			if recipe {
				missing = append(missing, fmt.Sprintf("%s: official image %s not found (the local %s can replace it)", v, official, local))
				addBuild(v)
			} else {
				missing = append(missing, fmt.Sprintf("%s: official image %s not found, and %s has no local image recipe", v, official, v))
				officialNoRecipe = true
			}

		case SourceAuto:
			if recipe {
				ok, err := exists(local)
				if err != nil {
					return err
				}
				if ok {
					continue
				}
			}
			ok, err := exists(official)
			if err != nil {
				return err
			}
			switch {
			case ok:
			case recipe:
				missing = append(missing, fmt.Sprintf("%s: neither the local image %s nor the official %s is in the Docker engine", v, local, official))
				addBuild(v)
			case v.Patch >= 0:
				addPull(official)
				noRecipe = append(noRecipe, fmt.Sprintf("%s: official image %s not found; local images are built per series (write %q to use %s)",
					v, official, v.Series(), local))
			default:
				addPull(official)
				noRecipe = append(noRecipe, fmt.Sprintf("%s: no local image recipe, and the official image %s is not in the Docker engine", v, official))
			}
		}
	}
	if len(missing) == 0 && len(noRecipe) == 0 {
		return nil
	}

	var b strings.Builder
	fmt.Fprintf(&b, "images missing for %d of %d versions (%s=%s; checked without pulling, nothing was started):",
		len(missing)+len(noRecipe), len(uniq), EnvImages, src)
	for _, l := range missing {
		b.WriteString("\n  " + l)
	}
	const fromRoot = `(from the repository root; "make images" builds them all)`
	if src == SourceOfficial {
		fmt.Fprintf(&b, "\nRun would pull them from a registry, and no registry may be reachable: pull them first (%s)", pullCommand(pull))
		if len(build) > 0 {
			fmt.Fprintf(&b, ", or rehearse offline with local images: %s %s, then set %s=%s",
				buildCommand(build), fromRoot, EnvImages, SourceLocal)
		}
		if officialNoRecipe {
			fmt.Fprintf(&b, "\nimages/build.sh builds only %s", knownList())
		}
	} else if len(build) > 0 {
		fmt.Fprintf(&b, "\nbuild them with: %s %s", buildCommand(build), fromRoot)
	}
	if len(noRecipe) > 0 {
		fmt.Fprintf(&b, "\nversions without a local image recipe (images/build.sh builds %s):", knownList())
		for _, l := range noRecipe {
			b.WriteString("\n  " + l)
		}
		if len(pull) > 0 {
			fmt.Fprintf(&b, "\ntheir official images would be pulled from a registry, and no registry may be reachable: pull them first (%s)",
				pullCommand(pull))
		}
	}
	return errors.New(b.String())
}

// pullCommand is the shell command that pulls refs, one docker pull each.
func pullCommand(refs []string) string {
	cmds := make([]string, len(refs))
	for i, r := range refs {
		cmds[i] = "docker pull " + r
	}
	return strings.Join(cmds, " && ")
}

package steps_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// toy is a kind whose parts a test can leave out.
type toy struct {
	spec *dsl.KindSpec
}

func (k toy) Spec() *dsl.KindSpec                               { return k.spec }
func (toy) Check(*dsl.Step, *redis.Sim) hcl.Diagnostics         { return nil }
func (toy) Describe(*dsl.Step, *redis.Sim) []string             { return []string{"nothing"} }
func (toy) Run(context.Context, *steps.Exec) (cty.Value, error) { return cty.NilVal, nil }

// A kind missing a part cannot be registered; the error says which part.
func TestRegistryRefusesIncompleteKinds(t *testing.T) {
	good := func() *dsl.KindSpec {
		return &dsl.KindSpec{Name: "toy", Doc: "A toy.", Args: []dsl.ArgSpec{{Name: "x", Type: dsl.ArgString, Doc: "An argument."}}}
	}
	if _, err := steps.NewRegistry(toy{good()}); err != nil {
		t.Fatalf("a complete kind was refused: %v", err)
	}
	for _, tc := range []struct {
		name  string
		kinds []steps.Kind
		want  string
	}{
		{"nil kind", []steps.Kind{nil}, "is nil"},
		{"no spec", []steps.Kind{toy{}}, "has no spec"},
		{"no name", []steps.Kind{toy{&dsl.KindSpec{Doc: "A toy."}}}, "invalid name"},
		{"no doc", []steps.Kind{toy{&dsl.KindSpec{Name: "toy"}}}, "no documentation"},
		{"twice", []steps.Kind{toy{good()}, toy{good()}}, "registered twice"},
		{"argument without type", []steps.Kind{toy{&dsl.KindSpec{Name: "toy", Doc: "A toy.", Args: []dsl.ArgSpec{{Name: "x", Doc: "X."}}}}}, `argument "x" has no type`},
		{"argument without doc", []steps.Kind{toy{&dsl.KindSpec{Name: "toy", Doc: "A toy.", Args: []dsl.ArgSpec{{Name: "x", Type: dsl.ArgNode}}}}}, `argument "x" has no documentation`},
		{"argument shadows a setting", []steps.Kind{toy{&dsl.KindSpec{Name: "toy", Doc: "A toy.", Args: []dsl.ArgSpec{{Name: "timeout", Type: dsl.ArgString, Doc: "T."}}}}}, "shadows the common setting"},
		{"enum on a number", []steps.Kind{toy{&dsl.KindSpec{Name: "toy", Doc: "A toy.", Args: []dsl.ArgSpec{{Name: "x", Type: dsl.ArgNumber, Enum: []string{"1"}, Doc: "X."}}}}}, "enum but is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := steps.NewRegistry(tc.kinds...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A type that has the language's parts but no Run is not a steps.Kind:
	// the compiler refuses to register it (var _ steps.Kind = langOnly{}
	// does not build), and a step loaded with it does not run.
	var k dsl.Kind = langOnly{}
	if _, ok := k.(steps.Kind); ok {
		t.Error("a kind without Run satisfies steps.Kind")
	}
}

type langOnly struct{}

func (langOnly) Spec() *dsl.KindSpec {
	return &dsl.KindSpec{Name: "lang", Doc: "Only the language part."}
}
func (langOnly) Check(*dsl.Step, *redis.Sim) hcl.Diagnostics { return nil }
func (langOnly) Describe(*dsl.Step, *redis.Sim) []string     { return nil }

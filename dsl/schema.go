package dsl

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Block type names of a runbook file.
const (
	blockVariable  = "variable"
	blockLocals    = "locals"
	blockNode      = "node"
	blockEndpoint  = "endpoint"
	blockStep      = "step"
	blockRollback  = "rollback"
	blockRehearsal = "rehearsal"
	blockWorkload  = "workload"
)

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockVariable, LabelNames: []string{"name"}},
		{Type: blockLocals},
		{Type: blockNode, LabelNames: []string{"name"}},
		{Type: blockEndpoint, LabelNames: []string{"name"}},
		{Type: blockStep, LabelNames: []string{"kind", "name"}},
		{Type: blockGroup, LabelNames: []string{"name"}},
		{Type: blockSentinel, LabelNames: []string{"name"}},
		{Type: blockCluster, LabelNames: []string{"name"}},
		{Type: blockRollback},
		{Type: blockRehearsal},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "default"},
		{Name: "type"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

var nodeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address", Required: true},
		{Name: "username"},
		{Name: "password"},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockRehearsal},
		{Type: blockTLS},
		{Type: blockLifecycle},
	},
}

var nodeRehearsalSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "version", Required: true},
		{Name: "seed"},
	},
}

var endpointSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "target", Required: true},
		{Name: "switch"},
		{Name: "connections"},
		{Name: "address"},
		{Name: "description"},
	},
}

var rollbackSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockStep, LabelNames: []string{"kind", "name"}},
	},
}

var rehearsalSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "keys"},
		{Name: "write_rate"},
		{Name: "probe_db"},
		{Name: "databases"},
		{Name: "types"},
		{Name: "big_keys"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: blockWorkload},
	},
}

var workloadSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "command", Required: true},
		{Name: "env"},
		{Name: "grace_period"},
		{Name: "description"},
	},
}

// stepCommonSchema holds the settings every step kind accepts; the rest of
// the body is decoded by the kind's own schema.
var stepCommonSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "timeout"},
		{Name: "until"},
		{Name: "when"},
		{Name: "on_failure"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "retry"},
		{Type: "assert"},
	},
}

var retrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "attempts"},
		{Name: "interval"},
		{Name: "max_interval"},
	},
}

var assertSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message"},
		{Name: "severity"},
	},
}

// sortedAttributes returns the attributes in source order, so that
// diagnostics come out in the order a reader meets them.
func sortedAttributes(attrs hcl.Attributes) []*hcl.Attribute {
	return slices.SortedFunc(maps.Values(attrs), func(a, b *hcl.Attribute) int {
		if a.Range.Filename != b.Range.Filename {
			return strings.Compare(a.Range.Filename, b.Range.Filename)
		}
		return a.Range.Start.Byte - b.Range.Start.Byte
	})
}

package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Format renders plans and reports in one output format.
type Format struct {
	Name string
	// Plan writes a plan.
	Plan func(w io.Writer, p *Plan) error
	// Report writes a report.
	Report func(w io.Writer, r *Report) error
}

// formats is the registry of output formats: adding one is its own file and
// one line here.
var formats = []Format{
	textFormat,
	markdownFormat,
	jsonFormat,
}

// LookupFormat returns the format called name.
func LookupFormat(name string) (Format, error) {
	for _, f := range formats {
		if f.Name == name {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("unknown format %q: the formats are %s", name, strings.Join(FormatNames(), ", "))
}

// FormatNames lists the formats, in registry order.
func FormatNames() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.Name
	}
	return slices.Clip(out)
}

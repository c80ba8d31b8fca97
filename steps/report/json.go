package report

import (
	"encoding/json"
	"io"
)

// jsonFormat is for programs: the same models, indented.
var jsonFormat = Format{
	Name:   "json",
	Plan:   func(w io.Writer, p *Plan) error { return writeJSON(w, p) },
	Report: func(w io.Writer, r *Report) error { return writeJSON(w, r) },
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

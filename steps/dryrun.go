package steps

import (
	"errors"
	"fmt"
	"strings"
)

// NotSent is the error of a command that a dry run did not send: a write to
// a node, a program the runbook would run. A step that meets it stops
// there; a dry run reports what it would have sent.
type NotSent struct {
	// Target is the node or endpoint it was for ("node old", "endpoint app").
	Target string
	// What is the command as it would be sent, secrets redacted by the
	// caller's outputs.
	What string
}

func (e *NotSent) Error() string {
	return fmt.Sprintf("dry run: would send %s to %s", e.What, e.Target)
}

// IsNotSent reports whether err is or wraps a NotSent.
func IsNotSent(err error) (*NotSent, bool) {
	var ns *NotSent
	ok := errors.As(err, &ns)
	return ns, ok
}

// CommandText renders a command's arguments for a NotSent: at most 8 of
// them, long ones cut.
func CommandText(args []any) string {
	var parts []string
	for i, a := range args {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("… (%d arguments)", len(args)))
			break
		}
		s := fmt.Sprint(a)
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		if i == 0 {
			s = strings.ToUpper(s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

package clientmix

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
)

var verifyStepRe = regexp.MustCompile(`(?m)^([ \t]*)step "verify" "[^"]+" \{[ \t]*\n`)

// ExcludeFromVerify returns a runbook's text with exclude = ["<prefix>*"] in
// every verify step, and how many it changed. A verify step compares the
// nodes' keys under live writes; the mix's counter, hash, list and stream
// change every 5 ms (the list and the stream grow), and a key that keeps
// changing while it is read differs at every look unless the master's
// writes are paused for the comparison, which 6.0 cannot do (no CLIENT
// PAUSE WRITE). Leaving such keys out is what exclude is for ("session:*"
// in its documentation); the mix checks its own keys on the final master.
func ExcludeFromVerify(src []byte, prefix string) ([]byte, int, error) {
	n := 0
	out := verifyStepRe.ReplaceAllFunc(src, func(m []byte) []byte {
		n++
		indent := verifyStepRe.FindSubmatch(m)[1]
		return fmt.Appendf(slices.Clone(m), "%s  exclude = [%s]\n", indent, strconv.Quote(prefix+"*"))
	})
	if n == 0 {
		return nil, 0, fmt.Errorf("no verify step found")
	}
	return out, n, nil
}

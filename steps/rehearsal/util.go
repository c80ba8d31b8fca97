package rehearsal

import "strings"

func splitLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r", ""), "\n")
}

func cut(s string, sep byte) (string, string, bool) {
	return strings.Cut(s, string(sep))
}

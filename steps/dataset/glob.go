package dataset

import (
	"errors"
	"fmt"
)

// matchGlob reports whether s matches the Redis glob pattern p, as KEYS and
// SCAN MATCH do (a port of stringmatchlen in Redis's util.c): '*' and '?'
// match any bytes, ':' and '/' included; "[abc]", "[^abc]" and "[a-z]" match
// one byte from a class; '\' escapes the next byte. Unlike path.Match there
// are no malformed patterns: an unterminated class ends at the pattern's end.
func matchGlob(p, s string) bool {
	skipLonger := false
	return globMatch(p, s, &skipLonger)
}

// globMatch matches p against s. skipLonger is set once the rest of a
// pattern after a '*' matched nowhere in the rest of s: then no earlier '*'
// can help either, which keeps the recursion linear.
func globMatch(p, s string, skipLonger *bool) bool {
	i, j := 0, 0 // positions in p and s
	for i < len(p) && j < len(s) {
		switch p[i] {
		case '*':
			for i+1 < len(p) && p[i+1] == '*' {
				i++
			}
			if i+1 == len(p) {
				return true
			}
			for ; j < len(s); j++ {
				if globMatch(p[i+1:], s[j:], skipLonger) {
					return true
				}
				if *skipLonger {
					return false
				}
			}
			*skipLonger = true
			return false
		case '?':
			j++
		case '[':
			i++
			not := i < len(p) && p[i] == '^'
			if not {
				i++
			}
			match := false
			for {
				if i+1 < len(p) && p[i] == '\\' {
					i++
					if p[i] == s[j] {
						match = true
					}
				} else if i >= len(p) {
					i-- // unterminated: the i++ below ends the pattern
					break
				} else if p[i] == ']' {
					break
				} else if i+2 < len(p) && p[i+1] == '-' {
					lo, hi := p[i], p[i+2]
					if lo > hi {
						lo, hi = hi, lo
					}
					if s[j] >= lo && s[j] <= hi {
						match = true
					}
					i += 2
				} else if p[i] == s[j] {
					match = true
				}
				i++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			j++
		case '\\':
			if i+1 < len(p) {
				i++
			}
			fallthrough
		default:
			if p[i] != s[j] {
				return false
			}
			j++
		}
		i++
		if j == len(s) {
			for i < len(p) && p[i] == '*' {
				i++
			}
			break
		}
	}
	return i == len(p) && j == len(s)
}

// CheckPattern reports a glob pattern Redis would accept but that cannot mean
// what was written: an unterminated character class ("[" without "]"), a
// trailing lone backslash, an empty pattern.
func CheckPattern(p string) error {
	if p == "" {
		return errors.New("the pattern is empty")
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 == len(p) {
				return errors.New(`it ends with a lone '\': escape it as '\\'`)
			}
			i++
		case '[':
			end := -1
			for j := i + 1; j < len(p); j++ {
				if p[j] == '\\' {
					j++
					continue
				}
				if p[j] == ']' && j > i+1 {
					end = j
					break
				}
			}
			if end < 0 {
				return fmt.Errorf("the character class at byte %d has no closing ']' (write '\\[' for a literal '[')", i+1)
			}
			i = end
		}
	}
	return nil
}

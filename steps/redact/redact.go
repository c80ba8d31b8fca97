package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zclconf/go-cty/cty"
)

// Marker replaces every occurrence of a secret.
const Marker = "(sensitive)"

// MinLen is the shortest secret that is redacted, in bytes. Shorter ones
// are ignored: redacting a password "a" (or "ok", or "1") would shred
// every output, and a secret that short is no secret anyway.
const MinLen = 4

// Secrets is the set of secrets of a run. The zero value and a nil
// *Secrets hold no secret and redact nothing. It is safe for concurrent
// use: Add may run while other goroutines redact.
type Secrets struct {
	mu      sync.Mutex          // serializes Add
	secrets map[string]struct{} // guarded by mu
	table   atomic.Pointer[table]
}

// table is an immutable snapshot of the patterns to redact.
type table struct {
	patterns  []string // every form of every secret, longest first, distinct
	bpatterns [][]byte // the same as byte slices
	maxLen    int      // length of the longest pattern
	multiline bool     // a pattern holds a newline
}

// New returns the set of the given secrets (see Add).
func New(secrets ...string) *Secrets {
	s := &Secrets{}
	s.Add(secrets...)
	return s
}

// Add adds secrets to the set. Empty strings and strings shorter than
// MinLen bytes are ignored. Add on a nil *Secrets panics rather than
// drop the secrets silently.
func (s *Secrets) Add(secrets ...string) {
	if s == nil {
		panic("redact: Add on a nil *Secrets")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, sec := range secrets {
		if len(sec) < MinLen {
			continue
		}
		if _, ok := s.secrets[sec]; ok {
			continue
		}
		if s.secrets == nil {
			s.secrets = map[string]struct{}{}
		}
		s.secrets[sec] = struct{}{}
		changed = true
	}
	if !changed {
		return
	}
	forms := map[string]struct{}{}
	for sec := range s.secrets {
		for _, f := range variants(sec) {
			if len(f) >= MinLen {
				forms[f] = struct{}{}
			}
		}
	}
	t := &table{}
	for f := range forms {
		t.patterns = append(t.patterns, f)
	}
	// Longest first (then in byte order, for a stable order).
	sort.Slice(t.patterns, func(i, j int) bool {
		a, b := t.patterns[i], t.patterns[j]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	for _, p := range t.patterns {
		t.bpatterns = append(t.bpatterns, []byte(p))
		t.multiline = t.multiline || strings.ContainsRune(p, '\n')
	}
	t.maxLen = len(t.patterns[0])
	s.table.Store(t)
}

// variants returns the forms in which a secret may appear in an output.
func variants(sec string) []string {
	sum := sha256.Sum256([]byte(sec))
	out := []string{hex.EncodeToString(sum[:])}
	bases := []string{sec}
	if n := cty.NormalizeString(sec); n != sec {
		bases = append(bases, n)
	}
	for _, b := range bases {
		out = append(out, b,
			unquote(strconv.Quote(b)),        // %q
			unquote(strconv.QuoteToASCII(b)), // %+q
			unquote(jsonString(b, true)),     // encoding/json's default
			unquote(jsonString(b, false)),    // SetEscapeHTML(false)
		)
	}
	return out
}

func jsonString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// unquote strips the quotes around a quoted string.
func unquote(q string) string { return q[1 : len(q)-1] }

// snapshot returns the current patterns, nil when there are none.
func (s *Secrets) snapshot() *table {
	if s == nil {
		return nil
	}
	return s.table.Load()
}

// Empty reports whether the set holds no secret (then redaction changes
// nothing).
func (s *Secrets) Empty() bool { return s.snapshot() == nil }

// Contains reports whether s holds a secret in any of its forms.
func (s *Secrets) Contains(text string) bool {
	t := s.snapshot()
	if t == nil {
		return false
	}
	for _, p := range t.patterns {
		if strings.Contains(text, p) {
			return true
		}
	}
	return false
}

// span is a half-open byte range to redact.
type span struct{ start, end int }

// merge sorts spans and merges those that overlap, so that a secret that
// contains another (or overlaps it) is replaced whole.
func merge(sp []span) []span {
	if len(sp) < 2 {
		return sp
	}
	slices.SortFunc(sp, func(a, b span) int { return a.start - b.start })
	out := sp[:1]
	for _, x := range sp[1:] {
		last := &out[len(out)-1]
		if x.start < last.end {
			last.end = max(last.end, x.end)
			continue
		}
		out = append(out, x)
	}
	return out
}

func (t *table) stringSpans(s string) []span {
	var sp []span
	for _, p := range t.patterns {
		for off := 0; off <= len(s)-len(p); {
			j := strings.Index(s[off:], p)
			if j < 0 {
				break
			}
			sp = append(sp, span{off + j, off + j + len(p)})
			off += j + 1 // overlapping occurrences too
		}
	}
	return merge(sp)
}

func (t *table) byteSpans(b []byte) []span {
	var sp []span
	for _, p := range t.bpatterns {
		for off := 0; off <= len(b)-len(p); {
			j := bytes.Index(b[off:], p)
			if j < 0 {
				break
			}
			sp = append(sp, span{off + j, off + j + len(p)})
			off += j + 1
		}
	}
	return merge(sp)
}

// String returns text with every occurrence of a secret replaced by
// Marker. Where secrets overlap or one contains another, the whole covered
// range becomes one Marker. The result is not scanned again.
func (s *Secrets) String(text string) string {
	t := s.snapshot()
	if t == nil {
		return text
	}
	return t.str(text)
}

func (t *table) str(text string) string {
	sp := t.stringSpans(text)
	if len(sp) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, x := range sp {
		b.WriteString(text[prev:x.start])
		b.WriteString(Marker)
		prev = x.end
	}
	b.WriteString(text[prev:])
	return b.String()
}

// Bytes is String for a byte slice, such as a whole report file. When
// nothing is redacted it returns b itself, otherwise a new slice.
func (s *Secrets) Bytes(b []byte) []byte {
	t := s.snapshot()
	if t == nil {
		return b
	}
	sp := t.byteSpans(b)
	if len(sp) == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	prev := 0
	for _, x := range sp {
		out = append(out, b[prev:x.start]...)
		out = append(out, Marker...)
		prev = x.end
	}
	return append(out, b[prev:]...)
}

// Value returns a copy of v with every string inside it redacted: strings
// in lists, tuples, sets, maps and objects at any depth, and also map keys
// and object attribute names. The structure is kept: a list stays a list
// of the same length, an object keeps its number of attributes (when two
// names redact to the same text, the later ones get a suffix "#2", "#3"…).
// A set may shrink when two of its elements redact to the same string.
// Unknown and null values are returned unchanged, as are numbers and
// bools (their type must not change; the rendered report is redacted as a
// whole as well). Marks are kept at every level.
func (s *Secrets) Value(v cty.Value) cty.Value {
	t := s.snapshot()
	if t == nil || v == cty.NilVal {
		return v
	}
	return t.value(v)
}

func (t *table) value(v cty.Value) cty.Value {
	if !v.IsKnown() || v.IsNull() {
		return v
	}
	raw, marks := v.Unmark()
	ty := raw.Type()
	var out cty.Value
	switch {
	case ty == cty.String:
		str := raw.AsString()
		r := t.str(str)
		if r == str {
			return v
		}
		out = cty.StringVal(r)
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		if raw.LengthInt() == 0 {
			return v
		}
		elems := make([]cty.Value, 0, raw.LengthInt())
		for it := raw.ElementIterator(); it.Next(); {
			_, e := it.Element()
			elems = append(elems, t.value(e))
		}
		switch {
		case ty.IsListType():
			out = cty.ListVal(elems)
		case ty.IsSetType():
			out = cty.SetVal(elems)
		default:
			out = cty.TupleVal(elems)
		}
	case ty.IsMapType():
		if raw.LengthInt() == 0 {
			return v
		}
		elems := map[string]cty.Value{}
		var keys []string
		for it := raw.ElementIterator(); it.Next(); {
			k, e := it.Element()
			keys = append(keys, k.AsString())
			elems[k.AsString()] = t.value(e)
		}
		out = cty.MapVal(t.renameKeys(keys, elems))
	case ty.IsObjectType():
		atys := ty.AttributeTypes()
		if len(atys) == 0 {
			return v
		}
		attrs := map[string]cty.Value{}
		var names []string
		for name := range atys {
			names = append(names, name)
			attrs[name] = t.value(raw.GetAttr(name))
		}
		sort.Strings(names)
		out = cty.ObjectVal(t.renameKeys(names, attrs))
	default:
		return v
	}
	return out.WithMarks(marks)
}

// renameKeys redacts the keys of m (listed sorted in keys), keeping their
// number: a redacted key that collides with another key gets the first
// free suffix "#2", "#3"….
func (t *table) renameKeys(keys []string, m map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(m))
	var redacted []string
	for _, k := range keys {
		if r := t.str(k); r != k {
			redacted = append(redacted, k)
			continue
		}
		out[k] = m[k] // unchanged keys keep their names
	}
	for _, k := range redacted {
		r := t.str(k)
		name := r
		for n := 2; ; n++ {
			if _, taken := out[name]; !taken {
				break
			}
			name = r + "#" + strconv.Itoa(n)
		}
		out[name] = m[k]
	}
	return out
}

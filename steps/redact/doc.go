// Package redact keeps the secrets of a run out of everything the run
// writes: every occurrence of a secret is replaced by "(sensitive)".
//
// A Secrets holds the secrets of one run (node passwords, sensitive
// variables, the rehearsal password) and redacts them in strings and byte
// slices (String, Bytes), in cty values such as a step's output (Value),
// and in streams (Writer). Besides each secret itself it redacts the forms
// in which a secret comes back from a server or a serializer:
//
//   - its SHA-256 in lowercase hex, which is how ACL LIST ("#<hex>") and
//     ACL GETUSER show a password;
//   - the secret inside a Go %q-quoted string or a JSON string, when it
//     holds characters those encodings escape (quotes, backslashes,
//     control characters, <, > and &);
//   - its Unicode NFC form, which is what a cty string holds.
//
// It is used where output leaves the process: the progress log (through
// Writer), the JSON report and its terminal summary (Value on each step's
// output, Bytes on the encoded file), the plan, and later the journals of a
// live run.
//
// Redaction is a last line of defence, not a licence to handle secrets
// loosely: code must still keep passwords out of error messages, command
// lines, container labels and reports in the first place. Redaction only
// recognizes the forms listed above; a secret that was transformed in any
// other way (base64, split across fields, truncated, uppercased) passes
// through, and secrets shorter than MinLen bytes are not redacted at all.
package redact

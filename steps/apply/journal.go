package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redact"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// The journal is a file of JSON objects, one a line, each a record of what
// the interpreter did, appended and fsynced as it happens, so that after a
// crash or a kill -9 `understudy apply --resume JOURNAL` knows which steps
// passed (with their outputs), which step was in flight and whether the
// rollback had begun. Every text in it passes through the run's secrets
// first: a journal holds no password, even when a step's output or error
// echoes one.
//
// Record types, in the order a run writes them:
const (
	recRunStart      = "run_start"      // run id, runbook, SHA-256 of its files, version, variables
	recResume        = "resume"         // a resumed run continues the file (same fields)
	recGroupStart    = "group_start"    // group, members
	recStepStart     = "step_start"     // step, kind, rollback
	recAttemptStart  = "attempt_start"  // step, attempt
	recAttemptEnd    = "attempt_end"    // step, attempt, error
	recMessage       = "message"        // step, text
	recStepEnd       = "step_end"       // step, status, attempts, duration, output, error, ...
	recRollbackStart = "rollback_start" // cause
	recRollbackEnd   = "rollback_end"   // status
	recRunEnd        = "run_end"        // status, rollback status, errors
)

// record is one line of the journal. Which fields are set depends on Type.
type record struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`

	// run_start and resume.
	RunID     string                     `json:"run_id,omitempty"`
	Runbook   string                     `json:"runbook,omitempty"`
	Files     map[string]string          `json:"sha256,omitempty"`
	Version   string                     `json:"understudy_version,omitempty"`
	Variables map[string]json.RawMessage `json:"variables,omitempty"`

	// group_start: the group and the members it iterates over (node
	// names).
	Group   string   `json:"group,omitempty"`
	Members []string `json:"members,omitempty"`

	// Step records.
	Step       string     `json:"step,omitempty"`
	Kind       string     `json:"kind,omitempty"`
	InRollback bool       `json:"rollback,omitempty"`
	Attempt    int        `json:"attempt,omitempty"`
	Text       string     `json:"text,omitempty"`
	Attempts   int        `json:"attempts,omitempty"`
	DurationMS float64    `json:"duration_ms,omitempty"`
	Output     *jsonValue `json:"output,omitempty"`
	Warnings   []string   `json:"warnings,omitempty"`
	// Interrupted: a signal ended the step. Resumed: it ended before a
	// resume, or was in flight and had taken effect. Refused: it was in
	// flight and could not be resumed; it stays in flight.
	Interrupted bool `json:"interrupted,omitempty"`
	Resumed     bool `json:"resumed,omitempty"`
	Refused     bool `json:"refused,omitempty"`

	// Error is an attempt's or a step's failure; Status a step's, the
	// rollback's or the run's.
	Error  string `json:"error,omitempty"`
	Status string `json:"status,omitempty"`

	// rollback_start: the step whose failure caused it ("" when the run
	// was interrupted between steps).
	Cause string `json:"cause,omitempty"`

	// run_end.
	RollbackStatus string   `json:"rollback_status,omitempty"`
	Errors         []string `json:"errors,omitempty"`
}

// jsonValue is a cty value with its type, so that it reads back as the
// same value (a list stays a list, an object an object).
type jsonValue struct {
	Type  json.RawMessage `json:"type"`
	Value json.RawMessage `json:"value"`
}

// RunInfo is what the journal's first record says about the run, and what
// a resume record says about the run that continues it.
type RunInfo struct {
	// RunID identifies the apply run (the lock's and the report's).
	RunID string
	// Runbook is the runbook's path; Files the SHA-256 (hex) of every file
	// the run read, by path.
	Runbook string
	Files   map[string]string
	// Version is understudy's version.
	Version string
}

// JournalWriter is the hook that writes the journal of a run: one JSON
// record a line, fsynced before the interpreter goes on, every text
// redacted. A write that fails halts the run before its next main step or
// attempt (nothing more starts that the journal could not record); the
// rollback still runs. Close returns that failure too.
type JournalWriter struct {
	path    string
	secrets *redact.Secrets

	mu  sync.Mutex
	f   *os.File
	err error // the first write failure
	// current is the step that runs, for Note.
	current *dsl.Step
}

var _ steps.GroupHook = (*JournalWriter)(nil)

// CreateJournal creates the journal of a new run at path (0600; an existing
// file is refused: a journal is one run's) and writes its first record: the
// run, the runbook's files and the variables that are not sensitive. The
// runbook's own secrets are added to secrets (nil: a set of its own).
func CreateJournal(path string, rb *dsl.Runbook, info RunInfo, secrets *redact.Secrets) (*JournalWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	// The new file's name must survive a crash as well as its lines.
	if err := syncJournalDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("create journal %s: %w", path, err)
	}
	w := newJournalWriter(path, f, rb, secrets)
	if err := w.write(w.header(recRunStart, rb, info)); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// AppendJournal reopens the journal of a run that stopped without ending,
// to be continued by a resumed run: it drops a torn last line (the process
// died while writing it), then appends a resume record with the resumed
// run's info. A journal that cannot be read, or whose run ended, is
// refused.
func AppendJournal(path string, rb *dsl.Runbook, info RunInfo, secrets *redact.Secrets) (*JournalWriter, error) {
	j, err := ReadJournal(path)
	if err != nil {
		return nil, err
	}
	if j.Ended && j.Refused == "" {
		return nil, fmt.Errorf("journal %s: the run ended (%s): there is nothing to resume", path, j.Status)
	}
	if err := dropTornLine(path); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen journal: %w", err)
	}
	w := newJournalWriter(path, f, rb, secrets)
	if err := w.write(w.header(recResume, rb, info)); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func newJournalWriter(path string, f *os.File, rb *dsl.Runbook, secrets *redact.Secrets) *JournalWriter {
	if secrets == nil {
		secrets = redact.New()
	}
	secrets.Add(rb.Secrets()...)
	return &JournalWriter{path: path, f: f, secrets: secrets}
}

// dropTornLine truncates the file after its last newline when what follows
// is not a whole record, so that the next record starts on a line of its
// own; a whole record missing only its newline gets it.
func dropTornLine(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return nil
	}
	cut := len(data)
	for cut > 0 && data[cut-1] != '\n' {
		cut--
	}
	if json.Valid(data[cut:]) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		if _, err := f.Write([]byte("\n")); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := os.Truncate(path, int64(cut)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncJournalDir fsyncs a directory, so that a file created in it survives a crash.
func syncJournalDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// header is the run_start or resume record.
func (w *JournalWriter) header(typ string, rb *dsl.Runbook, info RunInfo) *record {
	files := map[string]string{}
	for name, sum := range info.Files {
		files[w.secrets.String(name)] = sum
	}
	return &record{
		Type: typ, RunID: info.RunID, Runbook: w.secrets.String(info.Runbook), Files: files,
		Version: info.Version, Variables: w.variables(rb),
	}
}

// variables are the runbook's variables that are not sensitive, as JSON,
// redacted.
func (w *JournalWriter) variables(rb *dsl.Runbook) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, name := range slices.Sorted(maps.Keys(rb.Variables)) {
		v, ok := rb.Var(name)
		if rb.SensitiveVar(name) || !ok || !v.IsWhollyKnown() {
			continue
		}
		v, _ = v.UnmarkDeep()
		b, err := ctyjson.SimpleJSONValue{Value: w.secrets.Value(v)}.MarshalJSON()
		if err != nil {
			continue
		}
		out[name] = b
	}
	return out
}

// write appends one record and fsyncs the file. Its text was redacted
// field by field; a line that still holds a secret is redacted whole, and
// refused if that breaks it: no secret is ever written.
func (w *JournalWriter) write(r *record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return w.fail(errors.New("closed"))
	}
	r.Time = time.Now().UTC()
	line, err := json.Marshal(r)
	if err != nil {
		return w.fail(fmt.Errorf("encode %s record: %w", r.Type, err))
	}
	if w.secrets.Contains(string(line)) {
		line = w.secrets.Bytes(line)
		if !json.Valid(line) {
			return w.fail(fmt.Errorf("a %s record would hold a secret", r.Type))
		}
	}
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		return w.fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	return nil
}

// fail keeps the first failure; w.mu is held.
func (w *JournalWriter) fail(err error) error {
	err = fmt.Errorf("journal %s: %w", w.path, err)
	if w.err == nil {
		w.err = err
	}
	return err
}

// Err is the first write that failed, nil when every record was written.
func (w *JournalWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close closes the file; it returns the first write failure, if any.
func (w *JournalWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return w.err
	}
	err := w.f.Close()
	w.f = nil
	if w.err != nil {
		return w.err
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", w.path, err)
	}
	return nil
}

// halt stops a main step or attempt from starting when the journal cannot
// record it: a crash after it could not be resumed.
func (w *JournalWriter) halt(s *dsl.Step, err error) (steps.HookAction, error) {
	if err == nil {
		err = w.Err()
	}
	if err != nil && !s.InRollback {
		return steps.HookHalt, err
	}
	return steps.HookContinue, nil
}

// PreGroup records the members a group iterates over, so that a resumed
// run iterates over the same ones (Journal.Resume). A failed write halts
// the run at its next step.
func (w *JournalWriter) PreGroup(g *dsl.Group, members []string) {
	r := &record{Type: recGroupStart, Group: g.Name}
	for _, m := range members {
		r.Members = append(r.Members, w.secrets.String(m))
	}
	_ = w.write(r)
}

// PreStep records that a step starts.
func (w *JournalWriter) PreStep(s *dsl.Step) (steps.HookAction, error) {
	w.mu.Lock()
	w.current = s
	w.mu.Unlock()
	return w.halt(s, w.write(&record{Type: recStepStart, Step: s.Name, Kind: s.Kind, InRollback: s.InRollback}))
}

// PreAttempt records that an attempt starts.
func (w *JournalWriter) PreAttempt(s *dsl.Step, attempt int) (steps.HookAction, error) {
	return w.halt(s, w.write(&record{Type: recAttemptStart, Step: s.Name, InRollback: s.InRollback, Attempt: attempt}))
}

// PostAttempt records how an attempt ended.
func (w *JournalWriter) PostAttempt(s *dsl.Step, attempt int, err error) (steps.HookAction, error) {
	r := &record{Type: recAttemptEnd, Step: s.Name, InRollback: s.InRollback, Attempt: attempt}
	if err != nil {
		r.Error = w.secrets.String(err.Error())
	}
	_ = w.write(r)
	return steps.HookContinue, nil
}

// Message records what a step says about its work.
func (w *JournalWriter) Message(s *dsl.Step, text string) {
	r := &record{Type: recMessage, Text: w.secrets.String(text)}
	if s != nil {
		r.Step, r.InRollback = s.Name, s.InRollback
	}
	_ = w.write(r)
}

// Note records a line about the step that runs, from outside the step
// (e.g. a lifecycle command's output), as a message of that step.
func (w *JournalWriter) Note(text string) {
	w.mu.Lock()
	s := w.current
	w.mu.Unlock()
	w.Message(s, text)
}

// PostStep records how a step ended, with its output.
func (w *JournalWriter) PostStep(res *steps.StepResult) (steps.HookAction, error) {
	s := res.Step
	r := &record{
		Type: recStepEnd, Step: s.Name, Kind: s.Kind, InRollback: s.InRollback, Status: res.Status,
		Attempts: res.Attempts, DurationMS: float64(res.Duration.Microseconds()) / 1000,
		Interrupted: res.Interrupted, Resumed: res.Resumed, Refused: res.Refused,
		Output: w.value(res.Output),
	}
	if res.Diag != nil {
		r.Error = w.secrets.String(dsl.DiagnosticLine(res.Diag))
	}
	for _, d := range res.Warnings {
		r.Warnings = append(r.Warnings, w.secrets.String(dsl.DiagnosticLine(d)))
	}
	_ = w.write(r)
	return steps.HookContinue, nil
}

// value encodes a step's output, redacted, with its type; nil when it has
// none.
func (w *JournalWriter) value(v cty.Value) *jsonValue {
	if v == cty.NilVal || v.IsNull() || !v.IsWhollyKnown() {
		return nil
	}
	v, _ = v.UnmarkDeep()
	v = w.secrets.Value(v)
	ty, err := ctyjson.MarshalType(v.Type())
	if err != nil {
		return nil
	}
	val, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil
	}
	return &jsonValue{Type: ty, Value: val}
}

// PreRollback records that the rollback starts.
func (w *JournalWriter) PreRollback(cause *steps.StepResult) (steps.HookAction, error) {
	r := &record{Type: recRollbackStart}
	if cause != nil {
		r.Cause = cause.Step.Name
	}
	_ = w.write(r)
	return steps.HookContinue, nil
}

// PostRollback records how the rollback ended.
func (w *JournalWriter) PostRollback(status string) (steps.HookAction, error) {
	_ = w.write(&record{Type: recRollbackEnd, Status: status})
	return steps.HookContinue, nil
}

// PostRun records how the run ended.
func (w *JournalWriter) PostRun(res *steps.Result) {
	r := &record{
		Type: recRunEnd, Status: res.Status, RollbackStatus: res.RollbackStatus,
		DurationMS: float64(res.Duration.Microseconds()) / 1000,
	}
	for _, d := range res.Diagnostics {
		r.Errors = append(r.Errors, w.secrets.String(dsl.DiagnosticLine(d)))
	}
	_ = w.write(r)
}

// Path is the journal file's path.
func (w *JournalWriter) Path() string { return w.path }

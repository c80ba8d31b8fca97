package apply

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Journal is what a journal file tells about a run, read back.
type Journal struct {
	Path string
	// Header is the run_start record; Resumes the resume records, in order.
	Header  JournalHeader
	Resumes []JournalHeader
	// Steps are the main steps that ended, in the order they first ended,
	// with their outputs; RollbackSteps the rollback's.
	Steps         []JournalStep
	RollbackSteps []JournalStep
	// Groups are the members each group that started iterated over, by
	// group name.
	Groups map[string][]string
	// InFlight is the step that had started and not ended, nil when none.
	InFlight *InFlightStep
	// Refused names the in-flight step when the last run stopped because
	// it could not be resumed (it is still in flight).
	Refused string
	// RollbackStarted is true once the rollback began; RollbackStatus is
	// how it ended ("" while it had not).
	RollbackStarted bool
	RollbackCause   string
	RollbackStatus  string
	// Ended is true when the run_end record was written: Status says how
	// the run ended, Errors why.
	Ended  bool
	Status string
	Errors []string
	// TornTail is true when the last line was incomplete (the process died
	// while writing it) and was ignored.
	TornTail bool
}

// JournalHeader is a run_start or resume record.
type JournalHeader struct {
	Time    time.Time
	RunID   string
	Runbook string
	// Files are the SHA-256 of the run's files, by path.
	Files   map[string]string
	Version string
	// Variables are the variables that are not sensitive, as JSON.
	Variables map[string]json.RawMessage
}

// JournalStep is a step that ended.
type JournalStep struct {
	Name, Kind string
	InRollback bool
	// Status is steps.StatusPassed, StatusSkipped or StatusFailed.
	Status   string
	Attempts int
	Duration time.Duration
	// Output is the step's output (its secrets redacted), cty.NilVal when
	// it had none.
	Output      cty.Value
	Error       string
	Warnings    []string
	Interrupted bool
	// Resumed is true when the step ended before a resume and was not run
	// again.
	Resumed bool
	Ended   time.Time
}

// InFlightStep is a step that had started and not ended.
type InFlightStep struct {
	Name, Kind string
	InRollback bool
	Started    time.Time
	// Attempts is the number of attempts that had started; LastError the
	// failure of the last one that ended.
	Attempts  int
	LastError string
	// Log is what the step said (its messages) while in flight.
	Log []string
}

// Passed returns the main steps that passed.
func (j *Journal) Passed() []JournalStep {
	var out []JournalStep
	for _, s := range j.Steps {
		if s.Status == steps.StatusPassed {
			out = append(out, s)
		}
	}
	return out
}

// ReadJournal reads a journal. A last line without its newline that is not
// a whole record (the process died while writing it) is ignored; any other
// line that cannot be read is an error naming its line number.
func ReadJournal(path string) (*Journal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	j := &Journal{Path: path}
	rd := &journalReader{j: j, open: map[string]*InFlightStep{}}
	lines := bytes.Split(data, []byte("\n"))
	last := len(lines) - 1 // after the final newline: empty, or a torn line
	for i, line := range lines {
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			if i == last {
				j.TornTail = len(line) > 0
				break
			}
			return nil, fmt.Errorf("journal %s: line %d: %w", path, i+1, err)
		}
		if err := rd.apply(&r); err != nil {
			return nil, fmt.Errorf("journal %s: line %d: %w", path, i+1, err)
		}
	}
	if !rd.started {
		return nil, fmt.Errorf("journal %s: no run_start record: not a journal, or empty", path)
	}
	for name, f := range rd.open {
		if rd.ended[name] {
			// Restored by a resumed run that stopped before it said so:
			// its earlier end stands.
			delete(rd.open, name)
			continue
		}
		if j.InFlight != nil {
			return nil, fmt.Errorf("journal %s: steps %q and %q are both in flight", path, j.InFlight.Name, name)
		}
		j.InFlight = f
	}
	return j, nil
}

// journalReader folds records into a Journal.
type journalReader struct {
	j       *Journal
	started bool
	open    map[string]*InFlightStep
	ended   map[string]bool
}

func (rd *journalReader) apply(r *record) error {
	j := rd.j
	switch {
	case r.Type == recRunStart && rd.started:
		return fmt.Errorf("a second run_start record: one journal holds one run")
	case r.Type != recRunStart && !rd.started:
		return fmt.Errorf("a %s record before the run_start record", r.Type)
	case j.Ended && r.Type != recResume:
		return fmt.Errorf("a %s record after the run's end", r.Type)
	}
	switch r.Type {
	case recRunStart:
		rd.started, rd.ended = true, map[string]bool{}
		j.Header = r.header()
	case recResume:
		j.Resumes = append(j.Resumes, r.header())
		j.Ended, j.Status, j.Errors, j.Refused = false, "", nil, ""
	case recGroupStart:
		if j.Groups == nil {
			j.Groups = map[string][]string{}
		}
		if _, ok := j.Groups[r.Group]; !ok {
			// A resumed run records the members it took over again.
			j.Groups[r.Group] = append([]string{}, r.Members...)
		}
	case recStepStart:
		if f, ok := rd.open[r.Step]; ok {
			f.Started = r.Time // in flight again after a resume: keep what it said
			return nil
		}
		rd.open[r.Step] = &InFlightStep{Name: r.Step, Kind: r.Kind, InRollback: r.InRollback, Started: r.Time}
	case recAttemptStart:
		if f, ok := rd.open[r.Step]; ok {
			f.Attempts = r.Attempt
		}
	case recAttemptEnd:
		if f, ok := rd.open[r.Step]; ok {
			f.LastError = r.Error
		}
	case recMessage:
		if f, ok := rd.open[r.Step]; ok {
			f.Log = append(f.Log, r.Text)
		}
	case recStepEnd:
		return rd.stepEnd(r)
	case recRollbackStart:
		j.RollbackStarted, j.RollbackCause, j.RollbackStatus = true, r.Cause, ""
	case recRollbackEnd:
		j.RollbackStatus = r.Status
	case recRunEnd:
		j.Ended, j.Status, j.Errors = true, r.Status, r.Errors
	default:
		return fmt.Errorf("unknown record type %q", r.Type)
	}
	return nil
}

func (r *record) header() JournalHeader {
	return JournalHeader{Time: r.Time, RunID: r.RunID, Runbook: r.Runbook, Files: r.Files, Version: r.Version, Variables: r.Variables}
}

// stepEnd records a step that ended; a refused step stays in flight.
func (rd *journalReader) stepEnd(r *record) error {
	if r.Refused {
		rd.j.Refused = r.Step
		return nil
	}
	out := cty.NilVal
	if r.Output != nil {
		ty, err := ctyjson.UnmarshalType(r.Output.Type)
		if err != nil {
			return fmt.Errorf("output of step %q: %w", r.Step, err)
		}
		if out, err = ctyjson.Unmarshal(r.Output.Value, ty); err != nil {
			return fmt.Errorf("output of step %q: %w", r.Step, err)
		}
	}
	sr := JournalStep{
		Name: r.Step, Kind: r.Kind, InRollback: r.InRollback, Status: r.Status, Attempts: r.Attempts,
		Duration: time.Duration(r.DurationMS * float64(time.Millisecond)), Output: out, Error: r.Error,
		Warnings: r.Warnings, Interrupted: r.Interrupted, Resumed: r.Resumed, Ended: r.Time,
	}
	list := &rd.j.Steps
	if r.InRollback {
		list = &rd.j.RollbackSteps
	}
	if i := slices.IndexFunc(*list, func(s JournalStep) bool { return s.Name == r.Step }); i >= 0 {
		(*list)[i] = sr
	} else {
		*list = append(*list, sr)
	}
	delete(rd.open, r.Step)
	rd.ended[r.Step] = true
	return nil
}

// CheckFiles compares the SHA-256 of the run's files with files (by path,
// as RunInfo.Files): a resumed run must run the runbook the journal's run
// began with. The error names the files that differ.
func (j *Journal) CheckFiles(files map[string]string) error {
	var diff []string
	for _, name := range slices.Sorted(maps.Keys(j.Header.Files)) {
		if files[name] != j.Header.Files[name] {
			diff = append(diff, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if _, ok := j.Header.Files[name]; !ok {
			diff = append(diff, name)
		}
	}
	if len(diff) > 0 {
		return fmt.Errorf("journal %s: the run began with other files than these: %s differ; resume with the files the run began with", j.Path, strings.Join(diff, ", "))
	}
	return nil
}

// Resume turns the journal into what the interpreter needs to continue the
// run with rb (steps.Options.Resume): the steps that ended keep their
// results and outputs, the step in flight is judged by its kind (unless
// no attempt of it had started: then it runs as usual), and a run
// whose rollback had begun (or was about to: its failed step's on_failure
// rolls back) goes on with the rollback. It refuses a run that ended, a
// rollback that ended, a run that was ending without a rollback, and a
// journal whose steps are not rb's in rb's order.
func (j *Journal) Resume(rb *dsl.Runbook) (*steps.Resume, error) {
	switch {
	case j.Ended && j.Refused == "":
		return nil, fmt.Errorf("journal %s: the run ended (%s): there is nothing to resume; start a new apply if more is to be done", j.Path, j.Status)
	case j.RollbackStarted && j.RollbackStatus != "" && !j.refusedInRollback():
		return nil, fmt.Errorf("journal %s: the run's rollback had ended (%s) when it stopped: there is nothing to resume; look at the nodes, and start a new apply if more is to be done", j.Path, j.RollbackStatus)
	}
	var rollback []*dsl.Step
	if rb.Rollback != nil {
		rollback = rb.Rollback.Steps
	}
	main := j.iterated(rb.Steps)
	if err := j.checkOrder(main, j.Steps, false); err != nil {
		return nil, err
	}
	if err := j.checkOrder(j.iterated(rollback), j.RollbackSteps, true); err != nil {
		return nil, err
	}
	if (len(j.RollbackSteps) > 0 || (j.InFlight != nil && j.InFlight.InRollback)) && !j.RollbackStarted {
		return nil, fmt.Errorf("journal %s: rollback steps ran, but no rollback_start record: the journal is damaged", j.Path)
	}
	if j.InFlight != nil && !j.InFlight.InRollback && j.RollbackStarted {
		return nil, fmt.Errorf("journal %s: step %q is in flight, but the rollback had begun: the journal is damaged", j.Path, j.InFlight.Name)
	}
	rs := &steps.Resume{Ended: map[string]steps.ResumedStep{}, Rollback: j.RollbackStarted, Groups: j.Groups}
	for _, s := range slices.Concat(j.Steps, j.RollbackSteps) {
		rs.Ended[s.Name] = steps.ResumedStep{
			Status: s.Status, Output: s.Output, Attempts: s.Attempts, Duration: s.Duration,
			Error: s.Error, Interrupted: s.Interrupted,
		}
	}
	if f := j.InFlight; f != nil && f.Attempts > 0 {
		// A step whose first attempt had not started (its when condition
		// was being evaluated) did nothing yet: it runs as if it had not
		// started.
		rs.InFlight, rs.InFlightAttempts, rs.InFlightLog = f.Name, f.Attempts, slices.Clone(f.Log)
	}
	if !j.RollbackStarted {
		// A failed step that stops the run: the run was about to roll
		// back, or was ending without a rollback.
		for _, s := range main {
			r, ok := rs.Ended[s.Name]
			if !ok || r.Status != steps.StatusFailed || (s.OnFailure == "continue" && !r.Interrupted) {
				continue
			}
			rollsBack := s.OnFailure == "rollback" || (r.Interrupted && s.OnFailure != "abort")
			if !rollsBack || rb.Rollback == nil {
				return nil, fmt.Errorf("journal %s: step %s had failed and the run was ending without a rollback (on_failure = %q) when it stopped: there is nothing to resume", j.Path, s.Ref(), s.OnFailure)
			}
			rs.Rollback = true
			break
		}
	}
	return rs, nil
}

// iterated is list as the earlier run ran it: the steps of each group
// that started, once per member it iterated over, under their bound names
// (failover[cache-1]); a group that had not started keeps its steps under
// their own names (as the run names them when the group's members cannot
// be read).
func (j *Journal) iterated(list []*dsl.Step) []*dsl.Step {
	var out []*dsl.Step
	for i := 0; i < len(list); {
		s := list[i]
		if s.Group == nil {
			out = append(out, s)
			i++
			continue
		}
		k := i
		for k < len(list) && list[k].Group == s.Group {
			k++
		}
		group := list[i:k]
		i = k
		members, ok := j.Groups[s.Group.Name]
		if !ok {
			out = append(out, group...)
			continue
		}
		for _, m := range members {
			for _, gs := range group {
				out = append(out, gs.Iterate(&dsl.Iteration{Group: s.Group, Key: m}))
			}
		}
	}
	return out
}

// refusedInRollback reports whether the last run stopped at a rollback
// step it could not resume: its rollback ended there, and goes on from it.
func (j *Journal) refusedInRollback() bool {
	return j.Refused != "" && j.InFlight != nil && j.InFlight.InRollback
}

// checkOrder checks that the steps the journal ran are the first steps of
// want, in order, with the same kinds: the ended ones, then the one in
// flight.
func (j *Journal) checkOrder(want []*dsl.Step, ended []JournalStep, inRollback bool) error {
	names := map[string]JournalStep{}
	for _, s := range ended {
		names[s.Name] = s
	}
	n := len(ended)
	if j.InFlight != nil && j.InFlight.InRollback == inRollback {
		n++
	}
	if n > len(want) {
		return fmt.Errorf("journal %s: it ran %d steps where the runbook has %d: the runbook changed since the run began", j.Path, n, len(want))
	}
	for i, s := range want[:n] {
		kind := ""
		if r, ok := names[s.Name]; ok {
			kind = r.Kind
		} else if f := j.InFlight; f != nil && f.Name == s.Name && i == n-1 {
			kind = f.Kind
		} else {
			return fmt.Errorf("journal %s: the runbook's step %d is %s, which the journal does not show at that place: the runbook changed since the run began", j.Path, i+1, s.Ref())
		}
		if kind != s.Kind {
			return fmt.Errorf("journal %s: step %q is a %s in the journal and a %s in the runbook: the runbook changed since the run began", j.Path, s.Name, kind, s.Kind)
		}
	}
	return nil
}

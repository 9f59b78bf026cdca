package trace

import (
	"fmt"
	"strings"
)

// MaxReportedErrors is how many problems a reader keeps per input; the rest are only counted.
const MaxReportedErrors = 20

// ParseError is one problem at one place of an input file.
type ParseError struct {
	// Source names the input, usually its path.
	Source string
	// Line is the 1-based line of the problem; 0 when it concerns the whole input.
	Line int
	// Column is the CSV column at fault ("" when none).
	Column string
	// Field is the Gantry-format field path at fault, e.g. "pods[3].gpuMilli" ("" when none).
	Field string
	// Value is the offending text as found ("" when absent).
	Value string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any (e.g. a *strconv.NumError); exposed by Unwrap.
	Err error
}

// Error renders "source:line: column "x": reason" (CSV) or "source:line: field.path: reason" (Gantry).
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	switch {
	case e.Column != "":
		fmt.Fprintf(&b, "column %q: ", e.Column)
	case e.Field != "":
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// ParseErrors is every problem found in one input, in input order. Errors holds the first
// MaxReportedErrors of them; Omitted counts the rest. errors.As(err, &pe) with pe a *ParseError
// finds the first one.
type ParseErrors struct {
	Errors  []*ParseError
	Omitted int
}

// Error renders one problem per line, then "... and N more errors" when some were omitted.
func (l *ParseErrors) Error() string {
	msgs := make([]string, 0, len(l.Errors)+1)
	for _, e := range l.Errors {
		msgs = append(msgs, e.Error())
	}
	if l.Omitted > 0 {
		msgs = append(msgs, fmt.Sprintf("... and %d more errors", l.Omitted))
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes the kept errors to errors.Is and errors.As.
func (l *ParseErrors) Unwrap() []error {
	errs := make([]error, len(l.Errors))
	for i, e := range l.Errors {
		errs[i] = e
	}
	return errs
}

// Len is the total number of problems found, omitted ones included.
func (l *ParseErrors) Len() int { return len(l.Errors) + l.Omitted }

// collector gathers the problems of one input, keeping at most MaxReportedErrors.
type collector struct {
	source string
	errs   ParseErrors
}

func (c *collector) add(e *ParseError) {
	e.Source = c.source
	if len(c.errs.Errors) >= MaxReportedErrors {
		c.errs.Omitted++
		return
	}
	c.errs.Errors = append(c.errs.Errors, e)
}

func (c *collector) failed() bool { return c.errs.Len() > 0 }

// err returns the collected problems, or nil when there were none.
func (c *collector) err() error {
	if !c.failed() {
		return nil
	}
	errs := c.errs
	return &errs
}

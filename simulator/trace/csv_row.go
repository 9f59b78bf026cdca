package trace

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// csvRow is one data row being decoded; decoding problems are recorded in the collector and mark the row
// bad, so that the caller drops it (and, in the end, the whole input).
type csvRow struct {
	line   int
	fields []string
	cols   map[string]int
	c      *collector
	bad    bool
	// repaired lists the normalisations applied to the row; the reader counts them once the row is
	// accepted.
	repaired map[Normalization]bool
}

// has reports whether the file has column col.
func (r *csvRow) has(col string) bool {
	_, ok := r.cols[col]
	return ok
}

// cell is the raw text of column col, "" when the file has no such column.
func (r *csvRow) cell(col string) string {
	i, ok := r.cols[col]
	if !ok {
		return ""
	}
	return r.fields[i]
}

func (r *csvRow) fail(col, value, reason string, err error) {
	r.bad = true
	r.c.add(&ParseError{Line: r.line, Column: col, Value: value, Reason: reason, Err: err})
}

// int64 decodes a required integer cell.
func (r *csvRow) int64(col string) int64 { return r.integer(col, 64) }

// int decodes a required integer cell that must fit 32 bits (device counts).
func (r *csvRow) int(col string) int { return int(r.integer(col, 32)) }

// optInt64 decodes an optional integer cell: nil when the column is absent or the cell empty.
func (r *csvRow) optInt64(col string) *int64 {
	if r.cell(col) == "" {
		return nil
	}
	v := r.integer(col, 64)
	return &v
}

func (r *csvRow) integer(col string, bits int) int64 {
	s := r.cell(col)
	if s == "" {
		r.fail(col, s, "empty value, want an integer", nil)
		return 0
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		reason := fmt.Sprintf("invalid integer %q", s)
		if errors.Is(err, strconv.ErrRange) {
			reason = fmt.Sprintf("integer %s is out of range", s)
		}
		r.fail(col, s, reason, err)
		return 0
	}
	return v
}

// models decodes a "|"-separated model list; "" is nil (any model). Empty entries and repeated models
// are dropped and recorded as normalisations of the row (see Normalization).
func (r *csvRow) models(col string) []string {
	s := r.cell(col)
	if s == "" {
		return nil
	}
	if r.repaired == nil {
		r.repaired = map[Normalization]bool{}
	}
	return normalizeModels(strings.Split(s, "|"), r.repaired)
}

// failFields records the validation errors of a decoded value, naming each field's CSV column.
func (r *csvRow) failFields(errs FieldErrors, columns map[string]string) {
	for _, e := range errs {
		col, ok := columns[e.Field]
		if !ok {
			col = e.Field
		}
		r.fail(col, e.Value, e.Reason, e)
	}
}

// checkUnique records a duplicate name, remembering the line each name was first seen on.
func (r *csvRow) checkUnique(col, name string, seen map[string]int) {
	if name == "" {
		return
	}
	if first, dup := seen[name]; dup {
		r.fail(col, name, fmt.Sprintf("duplicate name %q, first on line %d", name, first), nil)
		return
	}
	seen[name] = r.line
}

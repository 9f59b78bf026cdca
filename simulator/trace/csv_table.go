package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// csvSpec describes the columns one kind of CSV file must or may have.
type csvSpec struct {
	// required columns must be in the header.
	required []string
	// together lists pairs of optional columns that must be both present or both absent.
	together [][2]string
}

// readCSV reads a header line and then every data row of r, calling onRow for each row that has as many
// fields as the header. It collects every problem (header, syntax, field count, and whatever onRow
// reports through the row) and returns them as *ParseErrors; an I/O error is returned at once, wrapped.
func readCSV(r io.Reader, source string, spec csvSpec, onRow func(*csvRow)) error {
	c := &collector{source: source}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, so that the message names both counts
	cr.ReuseRecord = true

	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		c.add(&ParseError{Reason: "empty input, want a header line"})
		return c.err()
	case err != nil:
		if ioErr := csvReadError(c, source, err); ioErr != nil {
			return ioErr
		}
		return c.err()
	}
	headerLine, _ := cr.FieldPos(0)
	cols, width := indexHeader(c, headerLine, header, spec)
	if c.failed() {
		return c.err()
	}

	rows := 0
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ioErr := csvReadError(c, source, err); ioErr != nil {
				return ioErr
			}
			continue
		}
		rows++
		line, _ := cr.FieldPos(0)
		if len(fields) != width {
			c.add(&ParseError{Line: line, Reason: fmt.Sprintf("row has %d fields, the header has %d", len(fields), width)})
			continue
		}
		onRow(&csvRow{line: line, fields: fields, cols: cols, c: c})
	}
	if rows == 0 && !c.failed() {
		c.add(&ParseError{Line: headerLine, Reason: "no data rows after the header"})
	}
	return c.err()
}

// csvReadError records a CSV syntax error in c and returns nil, or returns any other (I/O) error wrapped.
func csvReadError(c *collector, source string, err error) error {
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		c.add(&ParseError{Line: perr.Line, Reason: fmt.Sprintf("malformed CSV (byte %d): %v", perr.Column, perr.Err), Err: err})
		return nil
	}
	return fmt.Errorf("read %s: %w", source, err)
}

// indexHeader maps column names to indexes, reporting duplicates and missing columns. Empty names (a
// trailing comma) and unknown names are ignored.
func indexHeader(c *collector, line int, header []string, spec csvSpec) (map[string]int, int) {
	cols := make(map[string]int, len(header))
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a UTF-8 byte-order mark from spreadsheet exports
		}
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if first, dup := cols[name]; dup {
			c.add(&ParseError{Line: line, Column: name, Value: name,
				Reason: fmt.Sprintf("duplicate header column (fields %d and %d)", first+1, i+1)})
			continue
		}
		cols[name] = i
	}
	for _, name := range spec.required {
		if _, ok := cols[name]; !ok {
			c.add(&ParseError{Line: line, Column: name, Reason: "missing required column"})
		}
	}
	for _, pair := range spec.together {
		_, a := cols[pair[0]]
		_, b := cols[pair[1]]
		switch {
		case a && !b:
			c.add(&ParseError{Line: line, Column: pair[1], Reason: fmt.Sprintf("missing column, required with %q", pair[0])})
		case b && !a:
			c.add(&ParseError{Line: line, Column: pair[0], Reason: fmt.Sprintf("missing column, required with %q", pair[1])})
		}
	}
	return cols, len(header)
}

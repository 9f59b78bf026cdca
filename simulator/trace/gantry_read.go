package trace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// ReadGantry reads a trace in Gantry's own format (FORMAT.md): one YAML (or JSON) document with
// apiVersion gantry.dev/v1alpha1 and kind Trace. Decoding is strict: unknown, duplicate or mistyped
// fields are errors. The result is validated like Trace.Validate.
//
// source names r in errors (usually its path). On any problem ReadGantry returns an empty Trace and a
// *ParseErrors listing every problem found, each "source:line: field.path: reason".
func ReadGantry(r io.Reader, source string) (Trace, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Trace{}, fmt.Errorf("read %s: %w", source, err)
	}
	c := &collector{source: source}
	check := &schemaCheck{c: c, lines: make(map[string]int)}

	root, ok := parseOneDocument(c, data)
	if !ok {
		return Trace{}, c.err()
	}
	check.mapping(root, "", rootSchema)
	if c.failed() {
		return Trace{}, c.err()
	}

	var file gantryFile
	if err := sigsyaml.UnmarshalStrict(data, &file); err != nil {
		// The schema check should have caught everything; this is the safety net.
		c.add(&ParseError{Reason: "cannot decode: " + err.Error(), Err: err})
		return Trace{}, c.err()
	}
	checkHeader(check, file)
	t := file.trace(check)
	for _, e := range t.check() {
		c.add(&ParseError{Line: check.line(e.Field), Field: e.Field, Value: e.Value, Reason: e.Reason, Err: e})
	}
	if c.failed() {
		return Trace{}, c.err()
	}
	return t, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseOneDocument parses data as exactly one YAML document and returns its top node.
func parseOneDocument(c *collector, data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c.add(&ParseError{Reason: "empty input, want a " + Kind + " document"})
		} else {
			c.add(yamlSyntaxError(err))
		}
		return nil, false
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		c.add(&ParseError{Line: extra.Line, Reason: "a second YAML document; want exactly one"})
		return nil, false
	case !errors.Is(err, io.EOF):
		c.add(yamlSyntaxError(err))
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		c.add(&ParseError{Line: doc.Line, Reason: "want one " + Kind + " document"})
		return nil, false
	}
	return doc.Content[0], true
}

func yamlSyntaxError(err error) *ParseError {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ParseError{Line: line, Reason: "malformed YAML: " + m[2], Err: err}
	}
	return &ParseError{Reason: "malformed YAML: " + err.Error(), Err: err}
}

// checkHeader checks apiVersion and kind.
func checkHeader(check *schemaCheck, file gantryFile) {
	for _, f := range []struct{ field, got, want string }{
		{"apiVersion", file.APIVersion, APIVersion},
		{"kind", file.Kind, Kind},
	} {
		switch f.got {
		case f.want:
		case "":
			check.fail(check.line(f.field), f.field, "", fmt.Sprintf("required, want %q", f.want))
		default:
			check.fail(check.line(f.field), f.field, f.got, fmt.Sprintf("unsupported %q, want %q", f.got, f.want))
		}
	}
}

// trace converts the decoded file, reporting a pod that has only one of creationTime and deletionTime.
func (f gantryFile) trace(check *schemaCheck) Trace {
	t := Trace{GPUModels: f.GPUModels}
	if len(f.Nodes) > 0 {
		t.Nodes = make([]Node, len(f.Nodes))
	}
	for i, n := range f.Nodes {
		t.Nodes[i] = Node{Name: n.Name, CPUMilli: n.CPUMilli, MemoryMiB: n.MemoryMiB, GPUs: n.GPUs, Model: n.Model}
	}
	if len(f.Pods) > 0 {
		t.Pods = make([]Pod, len(f.Pods))
	}
	for i, p := range f.Pods {
		pod := Pod{
			Name: p.Name, CPUMilli: p.CPUMilli, MemoryMiB: p.MemoryMiB, NumGPU: p.NumGPU, GPUMilli: p.GPUMilli,
			GPUSpec: p.GPUSpec, QoS: p.QoS, Phase: p.Phase, Scheduled: p.ScheduledTime,
			HasTimes: p.CreationTime != nil || p.DeletionTime != nil,
		}
		switch {
		case p.CreationTime != nil && p.DeletionTime != nil:
			pod.Creation, pod.Deletion = *p.CreationTime, *p.DeletionTime
		case p.CreationTime != nil:
			path := fmt.Sprintf("pods[%d].%s", i, fieldDeletion)
			check.fail(check.line(path), path, "", "required with creationTime")
		case p.DeletionTime != nil:
			path := fmt.Sprintf("pods[%d].%s", i, fieldCreation)
			check.fail(check.line(path), path, "", "required with deletionTime")
		}
		t.Pods[i] = pod
	}
	return t
}

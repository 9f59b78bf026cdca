package trace

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// schemaCheck walks a parsed YAML document against the format's schema before it is decoded, so that
// unknown or duplicate fields, wrong types and aliases are reported with their field path and line.
// It also records the line of every field and list item, for later validation errors.
type schemaCheck struct {
	c     *collector
	lines map[string]int
}

func (s *schemaCheck) fail(line int, path, value, reason string) {
	s.c.add(&ParseError{Line: line, Field: path, Value: value, Reason: reason})
}

func (s *schemaCheck) mapping(n *yaml.Node, path string, schema map[string]valueKind) {
	if n.Kind != yaml.MappingNode {
		s.fail(n.Line, path, "", "want a mapping of fields, got "+describe(n))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		fieldPath := joinPath(path, key.Value)
		if key.Kind != yaml.ScalarNode {
			s.fail(key.Line, path, "", "want a field name, got "+describe(key))
			continue
		}
		if first, dup := seen[key.Value]; dup {
			s.fail(key.Line, fieldPath, "", fmt.Sprintf("duplicate field, first on line %d", first))
			continue
		}
		seen[key.Value] = key.Line
		kind, known := schema[key.Value]
		if !known {
			s.fail(key.Line, fieldPath, "", "unknown field")
			continue
		}
		s.lines[fieldPath] = key.Line
		s.value(val, fieldPath, kind)
	}
}

func (s *schemaCheck) value(n *yaml.Node, path string, kind valueKind) {
	if n.Kind == yaml.AliasNode {
		s.fail(n.Line, path, "", "YAML aliases are not supported in traces")
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // same as absent
	}
	switch kind {
	case kindString:
		s.scalar(n, path, "!!str", "a string")
	case kindInt:
		s.scalar(n, path, "!!int", "an integer")
	case kindStringList, kindNodeList, kindPodList:
		s.list(n, path, kind)
	}
}

func (s *schemaCheck) scalar(n *yaml.Node, path, tag, want string) {
	if n.Kind != yaml.ScalarNode || n.Tag != tag {
		reason := "want " + want + ", got " + describe(n)
		if tag == "!!str" && n.Kind == yaml.ScalarNode {
			reason += " (quote it)"
		}
		s.fail(n.Line, path, n.Value, reason)
	}
}

func (s *schemaCheck) list(n *yaml.Node, path string, kind valueKind) {
	if n.Kind != yaml.SequenceNode {
		s.fail(n.Line, path, "", "want a list, got "+describe(n))
		return
	}
	for i, item := range n.Content {
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		s.lines[itemPath] = item.Line
		if item.Kind == yaml.AliasNode {
			s.fail(item.Line, itemPath, "", "YAML aliases are not supported in traces")
			continue
		}
		switch kind {
		case kindStringList:
			s.scalar(item, itemPath, "!!str", "a string")
		case kindNodeList:
			s.mapping(item, itemPath, nodeSchema)
		case kindPodList:
			s.mapping(item, itemPath, podSchema)
		}
	}
}

// line returns the line of path, or of its closest recorded ancestor (0 when none).
func (s *schemaCheck) line(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		cut := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return 0
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// describe names a YAML node's type for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!bool":
			return "boolean " + n.Value
		}
		return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "nothing"
}

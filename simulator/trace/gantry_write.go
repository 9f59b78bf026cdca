package trace

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteGantry writes t in Gantry's own format (FORMAT.md), one node or pod per line, so that
// LoadDir + WriteGantry converts the Alibaba CSVs and ReadGantry reads the result back unchanged. t must
// be valid (Trace.Validate) and its strings valid UTF-8; otherwise nothing is written.
func WriteGantry(w io.Writer, t Trace) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	if err := checkUTF8(t); err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "apiVersion: %s\nkind: %s\n", APIVersion, Kind)
	if t.GPUModels != nil {
		fmt.Fprintf(bw, "%s: %s\n", fieldGPUModels, quoteList(t.GPUModels))
	}
	writeList(bw, "nodes", len(t.Nodes), func(i int) string { return nodeLine(t.Nodes[i]) })
	writeList(bw, "pods", len(t.Pods), func(i int) string { return podLine(t.Pods[i]) })
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	return nil
}

func writeList(bw *bufio.Writer, name string, n int, line func(int) string) {
	if n == 0 {
		fmt.Fprintf(bw, "%s: []\n", name)
		return
	}
	fmt.Fprintf(bw, "%s:\n", name)
	for i := range n {
		bw.WriteString("- {" + line(i) + "}\n")
	}
}

func nodeLine(n Node) string {
	f := fields{}
	f.str(fieldName, n.Name)
	f.int(fieldCPUMilli, n.CPUMilli)
	f.int(fieldMemoryMiB, n.MemoryMiB)
	f.int(fieldGPUs, int64(n.GPUs))
	if n.Model != "" {
		f.str(fieldModel, n.Model)
	}
	return f.String()
}

func podLine(p Pod) string {
	f := fields{}
	f.str(fieldName, p.Name)
	f.int(fieldCPUMilli, p.CPUMilli)
	f.int(fieldMemoryMiB, p.MemoryMiB)
	f.int(fieldNumGPU, int64(p.NumGPU))
	f.int(fieldGPUMilli, p.GPUMilli)
	if p.GPUSpec != nil {
		f.add(fieldGPUSpec, quoteList(p.GPUSpec))
	}
	if p.QoS != "" {
		f.str(fieldQoS, p.QoS)
	}
	if p.Phase != "" {
		f.str(fieldPhase, p.Phase)
	}
	if p.HasTimes {
		f.int(fieldCreation, p.Creation)
		f.int(fieldDeletion, p.Deletion)
	}
	if p.Scheduled != nil {
		f.int(fieldScheduled, *p.Scheduled)
	}
	return f.String()
}

// fields builds the inside of a YAML flow mapping.
type fields []string

func (f *fields) add(name, value string)   { *f = append(*f, name+": "+value) }
func (f *fields) str(name, value string)   { f.add(name, quote(value)) }
func (f *fields) int(name string, v int64) { f.add(name, strconv.FormatInt(v, 10)) }
func (f fields) String() string            { return strings.Join(f, ", ") }

// quote renders s as a JSON string, which is also a valid YAML double-quoted scalar.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		panic(err)
	}
	return string(b)
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func checkUTF8(t Trace) error {
	bad := func(path, s string) error {
		if utf8.ValidString(s) {
			return nil
		}
		return &FieldError{Field: path, Value: s, Reason: "not valid UTF-8"}
	}
	for i, m := range t.GPUModels {
		if err := bad(fmt.Sprintf("gpuModels[%d]", i), m); err != nil {
			return err
		}
	}
	for i, n := range t.Nodes {
		for _, s := range [][2]string{{fieldName, n.Name}, {fieldModel, n.Model}} {
			if err := bad(fmt.Sprintf("nodes[%d].%s", i, s[0]), s[1]); err != nil {
				return err
			}
		}
	}
	for i, p := range t.Pods {
		strs := [][2]string{{fieldName, p.Name}, {fieldQoS, p.QoS}, {fieldPhase, p.Phase}}
		for _, m := range p.GPUSpec {
			strs = append(strs, [2]string{fieldGPUSpec, m})
		}
		for _, s := range strs {
			if err := bad(fmt.Sprintf("pods[%d].%s", i, s[0]), s[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

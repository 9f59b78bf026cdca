// Package trace is the input layer of the Gantry simulator: it reads cluster traces (a node list and a
// pod list) into plain Go values and rejects anything malformed with the file, line and column at fault.
//
// Two input formats are supported:
//
//   - The Alibaba GPU cluster trace v2023 ("openb") CSV files, as used by the FGD paper (USENIX ATC '23):
//     ReadNodes, ReadPods, Load and LoadDir. Columns are found by header name, so any column order works;
//     unknown columns are ignored.
//   - Gantry's own versioned trace format (apiVersion gantry.dev/v1alpha1, kind Trace), a strictly decoded
//     YAML (or JSON) document described in FORMAT.md: ReadGantry, LoadGantry, and WriteGantry to convert
//     any Trace (for example the Alibaba CSVs) into it.
//
// Readers never return partial data: they collect every problem in the input (up to MaxReportedErrors,
// then a count of the rest) and return them together as *ParseErrors, whose elements are *ParseError.
//
// The package is pure: no logging, no clock, no global state. The shipped copy of the Alibaba trace
// under testdata/ is for tests only (research/study use, see testdata/alibaba-gpu-v2023/NOTICE.md) and
// must never be embedded into a binary.
package trace

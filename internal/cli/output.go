package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// printObject writes v as JSON or YAML for -o json|yaml and reports whether
// it did; tables are the caller's.
func (o *options) printObject(v any) (bool, error) {
	switch o.output {
	case "json":
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, fmt.Errorf("encode JSON: %w", err)
		}
		_, err = fmt.Fprintf(o.streams.Out, "%s\n", data)
		return true, err
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return true, fmt.Errorf("encode YAML: %w", err)
		}
		_, err = o.streams.Out.Write(data)
		return true, err
	}
	return false, nil
}

// table writes rows under headers, aligned as kubectl aligns its tables.
func table(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// usageBar draws used/total as ten cells and a percentage: "[####......] 40%".
func usageBar(used, total uint64) string {
	if total == 0 {
		return "[..........]   -"
	}
	pct := float64(used) * 100 / float64(total)
	cells := int(pct/10 + 0.5)
	if used > 0 && cells == 0 {
		cells = 1
	}
	cells = min(cells, 10)
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("#", cells), strings.Repeat(".", 10-cells), pct)
}

// listOf joins up to n items and says how many more there are.
func listOf(items []string, n int) string {
	if len(items) == 0 {
		return "<none>"
	}
	if len(items) <= n {
		return strings.Join(items, ",")
	}
	return fmt.Sprintf("%s,+%d more", strings.Join(items[:n], ","), len(items)-n)
}

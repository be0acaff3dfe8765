package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// sample is one series value of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseSamples reads the samples of the metrics keep accepts. Comments,
// blank lines and timestamps are ignored.
func parseSamples(text string, keep func(name string) bool) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 || !keep(line[:end]) {
			continue
		}
		s, err := parseSample(line, end)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

func parseSample(line string, nameEnd int) (sample, error) {
	s := sample{name: line[:nameEnd], labels: map[string]string{}}
	rest := line[nameEnd:]
	if rest[0] == '{' {
		n, err := parseLabels(rest, s.labels)
		if err != nil {
			return s, fmt.Errorf("metric %s: %w", s.name, err)
		}
		rest = rest[n:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return s, fmt.Errorf("metric %s: no value", s.name)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("metric %s: value: %w", s.name, err)
	}
	s.value = v
	return s, nil
}

// parseLabels reads `{a="x",b="y"}` at the start of text into into and
// returns the number of bytes consumed.
func parseLabels(text string, into map[string]string) (int, error) {
	i := 1
	for i < len(text) && text[i] != '}' {
		eq := strings.IndexByte(text[i:], '=')
		if eq < 0 || i+eq+1 >= len(text) || text[i+eq+1] != '"' {
			return 0, fmt.Errorf("malformed labels %q", text)
		}
		name := strings.TrimSpace(text[i : i+eq])
		i += eq + 2
		var val strings.Builder
		for ; i < len(text) && text[i] != '"'; i++ {
			if text[i] == '\\' && i+1 < len(text) {
				i++
				if text[i] == 'n' {
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(text[i])
		}
		if i >= len(text) {
			return 0, fmt.Errorf("unterminated label value in %q", text)
		}
		into[name] = val.String()
		i++ // closing quote
		if i < len(text) && text[i] == ',' {
			i++
		}
	}
	if i >= len(text) {
		return 0, fmt.Errorf("unterminated labels in %q", text)
	}
	return i + 1, nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// dashboard is the part of a Grafana dashboard the check reads.
type dashboard struct {
	Panels []panel `json:"panels"`
}

type panel struct {
	ID      int      `json:"id"`
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // a row's panels
}

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// grafanaVars are the dashboard variables allowed in expressions, and what
// they stand for when parsed.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "5m", "$__range", "1h")

// check parses every expression of the dashboard and the rule file and
// returns the sorted metric names they select.
func check(dashboardPath, rulesPath string) ([]string, error) {
	if dashboardPath == "" || rulesPath == "" {
		return nil, errors.New("want -dashboard and -rules")
	}
	exprs, err := dashboardExprs(dashboardPath)
	if err != nil {
		return nil, err
	}
	ruleExprs, err := ruleFileExprs(rulesPath)
	if err != nil {
		return nil, err
	}
	exprs = append(exprs, ruleExprs...)
	var names []string
	for _, e := range exprs {
		got, err := metricNames(e.expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.where, err)
		}
		names = append(names, got...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

type located struct{ where, expr string }

func dashboardExprs(path string) ([]located, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", path, err)
	}
	if len(d.Panels) == 0 {
		return nil, fmt.Errorf("dashboard %s has no panels", path)
	}
	var out []located
	var walk func(ps []panel) error
	walk = func(ps []panel) error {
		for _, p := range ps {
			if p.Type == "row" {
				if err := walk(p.Panels); err != nil {
					return err
				}
				continue
			}
			if len(p.Targets) == 0 {
				return fmt.Errorf("dashboard %s: panel %d %q has no targets", path, p.ID, p.Title)
			}
			for _, t := range p.Targets {
				where := fmt.Sprintf("dashboard panel %d %q target %s", p.ID, p.Title, t.RefID)
				if strings.TrimSpace(t.Expr) == "" {
					return fmt.Errorf("%s: empty expr", where)
				}
				out = append(out, located{where, t.Expr})
			}
		}
		return nil
	}
	return out, walk(d.Panels)
}

func ruleFileExprs(path string) ([]located, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	var out []located
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, located{fmt.Sprintf("rule %s%s of group %s", r.Alert, r.Record, g.Name), r.Expr})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rules %s has no rules", path)
	}
	return out, nil
}

// metricNames parses one expression and returns the metric names its
// selectors name; a selector without a name (by labels alone) is an error,
// since what it reads could not be checked.
func metricNames(expr string) ([]string, error) {
	node, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	var names []string
	for _, sel := range parser.ExtractSelectors(node) {
		name := ""
		for _, m := range sel {
			if m.Name == "__name__" {
				name = m.Value
			}
		}
		if name == "" {
			return nil, fmt.Errorf("%q selects series without a metric name", expr)
		}
		names = append(names, name)
	}
	return names, nil
}

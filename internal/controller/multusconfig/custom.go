package multusconfig

import (
	"encoding/json"
	"errors"
	"fmt"
)

// customConfig is a parsed spec.customCNI: a single plugin configuration, or
// a configuration list when plugins is set.
type customConfig struct {
	top     map[string]json.RawMessage
	plugins []json.RawMessage
}

// parseCustom checks that text is a CNI plugin configuration (an object with
// a "type") or a configuration list (an object with a non-empty "plugins"
// array of plugin configurations).
func parseCustom(text string) (customConfig, error) {
	top, err := parseObject(text)
	if err != nil {
		return customConfig{}, err
	}
	raw, isList := top["plugins"]
	if !isList {
		if err := checkType(top); err != nil {
			return customConfig{}, fmt.Errorf(`%w and no "plugins" list`, err)
		}
		return customConfig{top: top}, nil
	}
	var plugins []json.RawMessage
	if err := json.Unmarshal(raw, &plugins); err != nil || len(plugins) == 0 {
		return customConfig{}, errors.New(`"plugins" is not a non-empty array`)
	}
	for i, p := range plugins {
		if _, err := parsePlugin(string(p)); err != nil {
			return customConfig{}, fmt.Errorf("plugins[%d] %w", i, err)
		}
	}
	return customConfig{top: top, plugins: plugins}, nil
}

// parsePlugin checks that text is one plugin configuration: a JSON object
// with a non-empty "type".
func parsePlugin(text string) (map[string]json.RawMessage, error) {
	obj, err := parseObject(text)
	if err != nil {
		return nil, err
	}
	if err := checkType(obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// parseObject parses text as a JSON object, saying what it is otherwise.
func parseObject(text string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("is a JSON %s, not an object", typeErr.Value)
		}
		return nil, fmt.Errorf("is not valid JSON: %w", err)
	}
	if obj == nil {
		return nil, errors.New("is null, not a JSON object")
	}
	return obj, nil
}

// checkType checks that a plugin object names its plugin.
func checkType(obj map[string]json.RawMessage) error {
	var t string
	if err := json.Unmarshal(obj["type"], &t); err != nil || t == "" {
		return errors.New(`has no "type" string naming the plugin`)
	}
	return nil
}

// renderCustom returns customCNI as the configuration list of network name,
// with chain appended to its plugins. A list without chain plugins is
// returned unchanged, byte for byte; a single plugin is wrapped in a list that
// keeps the plugin's cniVersion if it has one.
func renderCustom(name, text string, chain []json.RawMessage) (string, error) {
	c, err := parseCustom(text)
	if err != nil {
		return "", fmt.Errorf("customCNI %w", err)
	}
	if c.plugins == nil {
		version := CNIVersion
		var v string
		if json.Unmarshal(c.top["cniVersion"], &v) == nil && v != "" {
			version = v
		}
		list := confList{CNIVersion: version, Name: name, Plugins: append([]json.RawMessage{json.RawMessage(text)}, chain...)}
		out, err := json.Marshal(list)
		if err != nil {
			return "", fmt.Errorf("encode wrapped customCNI: %w", err)
		}
		return string(out), nil
	}
	if len(chain) == 0 {
		return text, nil
	}
	plugins, err := json.Marshal(append(c.plugins, chain...))
	if err != nil {
		return "", fmt.Errorf("encode customCNI plugins: %w", err)
	}
	c.top["plugins"] = plugins
	// Re-encoding the map sorts its keys, so the output is still stable.
	out, err := json.Marshal(c.top)
	if err != nil {
		return "", fmt.Errorf("encode customCNI: %w", err)
	}
	return string(out), nil
}

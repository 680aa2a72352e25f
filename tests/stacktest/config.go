// config.go: a stack's configuration as the Pulumi CLI hands it to the program.

package stacktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// StackConfig reads Pulumi.yaml and Pulumi.<stack>.yaml in dir and returns the
// configuration the CLI would pass to the program: declared defaults, overridden by
// the stack's values, every key namespaced ("guestbook:nodeCount").
func StackConfig(dir, stack string) (map[string]string, error) {
	var project struct {
		Name   string
		Config map[string]yaml.Node
	}
	if err := readYAML(filepath.Join(dir, "Pulumi.yaml"), &project); err != nil {
		return nil, err
	}
	cfg := map[string]string{}
	for key, node := range project.Config {
		full := key
		if !strings.Contains(key, ":") {
			full = project.Name + ":" + key
		}
		var decl struct {
			Default yaml.Node `yaml:"default"`
		}
		if node.Kind == yaml.MappingNode {
			if err := node.Decode(&decl); err != nil {
				return nil, fmt.Errorf("config %s in Pulumi.yaml: %w", key, err)
			}
			if decl.Default.Kind == yaml.ScalarNode {
				cfg[full] = decl.Default.Value
			}
		} else {
			cfg[full] = node.Value
		}
	}
	var stackFile struct {
		Config map[string]yaml.Node
	}
	if err := readYAML(filepath.Join(dir, "Pulumi."+stack+".yaml"), &stackFile); err != nil {
		return nil, err
	}
	for key, node := range stackFile.Config {
		if node.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("config %s in Pulumi.%s.yaml: only plain values are supported here", key, stack)
		}
		if !strings.Contains(key, ":") {
			key = project.Name + ":" + key
		}
		cfg[key] = node.Value
	}
	return cfg, nil
}

func readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// config.go: a stack's configuration as the Pulumi CLI hands it to the program.

package stacktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ExampleClusterAdmins stands in for guestbook:clusterAdmins, the one key every
// user sets for themselves (Pulumi.dev.yaml says how); StackConfig supplies it
// when the stack file does not, as a user would have.
const ExampleClusterAdmins = `[{"objectId":"3f6c2a9e-8b1d-4c7e-9a2f-5d4e3c2b1a09","type":"User"}]`

// StackConfig reads Pulumi.yaml and Pulumi.<stack>.yaml in dir and returns the
// configuration the CLI would pass to the program: declared defaults, overridden by
// the stack's values, every key namespaced ("guestbook:nodeCount"),
// ExampleClusterAdmins where the stack names no admins, and no propagation wait.
func StackConfig(dir, stack string) (map[string]string, error) {
	var err error
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
			if !decl.Default.IsZero() {
				if cfg[full], err = configValue(&decl.Default); err != nil {
					return nil, fmt.Errorf("config %s in Pulumi.yaml: %w", key, err)
				}
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
		if !strings.Contains(key, ":") {
			key = project.Name + ":" + key
		}
		if cfg[key], err = configValue(&node); err != nil {
			return nil, fmt.Errorf("config %s in Pulumi.%s.yaml: %w", key, stack, err)
		}
	}
	if _, ok := cfg[project.Name+":clusterAdmins"]; !ok {
		cfg[project.Name+":clusterAdmins"] = ExampleClusterAdmins
	}
	// The mocks create a role assignment in no time and no time passes after it:
	// a real wait for its propagation would only make the run ten minutes longer.
	// The wait itself is infra's to test (TestGrantPropagation).
	cfg[project.Name+":grantPropagation"] = "0s"
	return cfg, nil
}

// configValue is a configuration value as the program reads it: a scalar as
// written, a list or map as JSON.
func configValue(node *yaml.Node) (string, error) {
	if node.Kind == yaml.ScalarNode {
		return node.Value, nil
	}
	var v any
	if err := node.Decode(&v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
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

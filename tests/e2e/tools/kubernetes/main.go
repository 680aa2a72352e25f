// Command pulumi-resource-kubernetes is the real pulumi-kubernetes provider, served
// exactly as the provider's own cmd/pulumi-resource-kubernetes serves it.
//
// schema-embed.json and terraform-mapping-embed.json are copies of the provider
// module's cmd/pulumi-resource-kubernetes/schema.json and terraform-mapping.json,
// made by tests/e2e before it builds this command (they are not committed: 8 MB of
// generated JSON). version is set with -ldflags -X main.version=... to the
// provider module's (pseudo-)version, so `pulumi about` and the engine's logs say
// which provider code ran.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
)

var version = "0.0.0-dev"

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version, pulumiSchema, terraformMapping)
}

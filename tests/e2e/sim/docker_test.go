package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const password = "acr-refresh-token-do-not-leak"

// dockerFixture is a project directory with the guestbook's build context and a
// cloud holding the registry to push to.
type dockerFixture struct {
	cloud       *Cloud
	p           *DockerProvider
	dir         string
	loginServer string
}

func newDockerFixture(t *testing.T) dockerFixture {
	t.Helper()
	c := newCloud(t)
	s := deployAzure(t, NewAzureProvider(c), false)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"app/guestbook/Dockerfile":    "FROM scratch\nCOPY . /src\n",
		"app/guestbook/.dockerignore": "*\n!go.mod\n!*.go\n*_test.go\n",
		"app/guestbook/go.mod":        "module guestbook\n",
		"app/guestbook/main.go":       "package main\n",
		"app/guestbook/main_test.go":  "package main\n",
		"app/guestbook/README.md":     "readme\n",
	} {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dockerFixture{cloud: c, p: NewDockerProvider(c, dir), dir: dir, loginServer: s.loginServer}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// imageInputs are the inputs app/image.go gives, the password a secret.
func (f dockerFixture) imageInputs(pw string) resource.PropertyMap {
	ins := pm(map[string]any{
		"imageName":      f.loginServer + "/guestbook:dev",
		"build":          map[string]any{"context": "app/guestbook", "dockerfile": "app/guestbook/Dockerfile", "platform": "linux/amd64"},
		"buildOnPreview": false,
		"registry":       map[string]any{"server": f.loginServer, "username": "00000000-0000-0000-0000-000000000000"},
	})
	ins["registry"].ObjectValue()["password"] = resource.MakeSecret(resource.NewProperty(pw))
	return ins
}

// diff checks news and diffs them against olds, checked before.
func (f dockerFixture) diff(t *testing.T, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	news = check(t, f.p, ImageToken, "guestbook-image", news)
	resp, err := f.p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Id: "id", Urn: urnOf(ImageToken, "guestbook-image"), Type: ImageToken, OldInputs: wireOf(t, olds), News: wireOf(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDockerDiff(t *testing.T) {
	f := newDockerFixture(t)
	unknownPassword := f.imageInputs("")
	unknownPassword["registry"].ObjectValue()["password"] = resource.MakeSecret(resource.MakeComputed(resource.NewProperty("")))
	newTag := f.imageInputs(password)
	newTag["imageName"] = resource.NewProperty(f.loginServer + "/guestbook:v2")

	tests := []struct {
		name    string
		olds    resource.PropertyMap
		news    resource.PropertyMap
		edit    func() // changes the context between the two Checks' inputs
		want    pulumirpc.DiffResponse_DiffChanges
		wantKey string
	}{
		{"nothing changed", f.imageInputs(password), f.imageInputs(password), nil, pulumirpc.DiffResponse_DIFF_NONE, ""},
		{"fresh token", f.imageInputs(password), f.imageInputs("another-token"), nil, pulumirpc.DiffResponse_DIFF_NONE, ""},
		{"unknown token in preview", f.imageInputs(password), unknownPassword, nil, pulumirpc.DiffResponse_DIFF_NONE, ""},
		{"new tag", f.imageInputs(password), newTag, nil, pulumirpc.DiffResponse_DIFF_SOME, "imageName"},
		{"ignored file edited", f.imageInputs(password), f.imageInputs(password), func() {
			writeFile(t, filepath.Join(f.dir, "app/guestbook/main_test.go"), "package main // edited\n")
		}, pulumirpc.DiffResponse_DIFF_NONE, ""},
		{"source edited", f.imageInputs(password), f.imageInputs(password), func() {
			writeFile(t, filepath.Join(f.dir, "app/guestbook/main.go"), "package main // edited\n")
		}, pulumirpc.DiffResponse_DIFF_SOME, "build.contextDigest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			olds := check(t, f.p, ImageToken, "guestbook-image", tt.olds)
			if tt.edit != nil {
				tt.edit()
			}
			got := f.diff(t, olds, tt.news)
			if got.Changes != tt.want {
				t.Errorf("changes = %v, want %v (detailed %v)", got.Changes, tt.want, got.DetailedDiff)
			}
			if len(got.Replaces) != 0 {
				t.Errorf("replaces = %v, want none: an image is updated", got.Replaces)
			}
			if tt.wantKey != "" && got.DetailedDiff[tt.wantKey] == nil {
				t.Errorf("detailedDiff = %v, want a change of %s", got.DetailedDiff, tt.wantKey)
			}
		})
	}
}

func TestDockerBuildAndPush(t *testing.T) {
	f := newDockerFixture(t)
	id, outs := create(t, f.p, ImageToken, "guestbook-image", f.imageInputs(password))
	if id != f.loginServer+"/guestbook:dev" {
		t.Errorf("id = %q, want the image name", id)
	}
	repoDigest := propStr(outs, "repoDigest")
	if !strings.HasPrefix(repoDigest, f.loginServer+"/guestbook@sha256:") {
		t.Errorf("repoDigest = %q, want <login server>/guestbook@sha256:…", repoDigest)
	}
	if _, ok := outs["registry"]; ok {
		t.Error("outputs hold the registry block (and its password)")
	}
	for k, want := range map[string]string{"registryServer": f.loginServer, "platform": "linux/amd64", "baseImageName": f.loginServer + "/guestbook:dev"} {
		if got := propStr(outs, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// The same context gives the same digest.
	_, again := create(t, f.p, ImageToken, "guestbook-image", f.imageInputs("another-token"))
	if got := propStr(again, "repoDigest"); got != repoDigest {
		t.Errorf("second build: repoDigest %q, want %q", got, repoDigest)
	}

	pushes := ops(t, f.cloud, OpPush)
	sum := sha256.Sum256([]byte(password))
	if len(pushes) != 2 || pushes[0].Registry != f.loginServer || pushes[0].Username != "00000000-0000-0000-0000-000000000000" ||
		pushes[0].PasswordSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("pushes = %+v, want two to %s with the password's hash", pushes, f.loginServer)
	}
	if len(ops(t, f.cloud, OpBuild)) != 2 {
		t.Error("want two build operations")
	}
	log, err := os.ReadFile(filepath.Join(f.cloud.Dir(), operationsFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), password) {
		t.Error("the operation log holds the registry password")
	}
	images, err := f.cloud.Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 || images[1].Tag != "dev" || images[0].Tag != "" || images[1].Repository != "guestbook" {
		t.Errorf("registry holds %+v, want two pushes of guestbook, the tag on the last", images)
	}
}

func TestDockerReadSaysGoneWithTheRegistry(t *testing.T) {
	f := newDockerFixture(t)
	id, outs := create(t, f.p, ImageToken, "guestbook-image", f.imageInputs(password))
	read := func() string {
		resp, err := f.p.Read(context.Background(), &pulumirpc.ReadRequest{Id: id, Urn: urnOf(ImageToken, "img"), Type: ImageToken, Properties: wireOf(t, outs)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Id
	}
	if got := read(); got != id {
		t.Errorf("Read = %q, want %q", got, id)
	}
	for _, r := range resources(t, f.cloud) {
		if r.Kind == KindRegistry {
			if err := f.cloud.DeleteOutOfBand(r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := read(); got != "" {
		t.Errorf("Read after the registry was deleted = %q, want gone", got)
	}
}

func TestDockerFailures(t *testing.T) {
	f := newDockerFixture(t)
	missingContext := f.imageInputs(password)
	missingContext["build"] = resource.NewProperty(pm(map[string]any{"context": "app/nope", "dockerfile": "app/nope/Dockerfile"}))
	noRegistry := f.imageInputs(password)
	noRegistry["imageName"] = resource.NewProperty("other.azurecr.io/guestbook:dev")
	noRegistry["registry"].ObjectValue()["server"] = resource.NewProperty("other.azurecr.io")

	tests := []struct {
		name string
		ins  resource.PropertyMap
		want string
	}{
		{"missing context", missingContext, `unable to prepare context: path "app/nope" not found`},
		{"unknown registry", noRegistry, `dial tcp: lookup other.azurecr.io: no such host`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tryCreate(t, f.p, ImageToken, "guestbook-image", tt.ins)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDockerPreviewBuildsNothing(t *testing.T) {
	f := newDockerFixture(t)
	ins := check(t, f.p, ImageToken, "guestbook-image", f.imageInputs(password))
	resp, err := f.p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf(ImageToken, "guestbook-image"), Type: ImageToken, Properties: wireOf(t, ins), Preview: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if outs := propsOf(t, resp.Properties); !outs["repoDigest"].IsComputed() {
		t.Errorf("preview repoDigest = %v, want unknown", outs["repoDigest"])
	}
	if n := len(ops(t, f.cloud, OpBuild)) + len(ops(t, f.cloud, OpPush)); n != 0 {
		t.Errorf("preview logged %d builds and pushes, want none", n)
	}
}

func TestDockerCheckKeepsPasswordSecret(t *testing.T) {
	f := newDockerFixture(t)
	ins := check(t, f.p, ImageToken, "guestbook-image", f.imageInputs(password))
	pw := ins["registry"].ObjectValue()["password"]
	if !pw.IsSecret() {
		t.Errorf("checked password = %v, want a secret", pw)
	}
	build := ins["build"].ObjectValue()
	if propStr(build, "contextDigest") == "" || propStr(build, "builderVersion") != "BuilderBuildKit" {
		t.Errorf("checked build = %v, want contextDigest and the BuildKit default", build)
	}
}

func TestDockerignore(t *testing.T) {
	patterns := []string{"*", "!go.mod", "!*.go", "*_test.go", "docs/**/*.md"}
	tests := []struct {
		path string
		want bool
	}{
		{"main.go", false},
		{"main_test.go", true},
		{"go.mod", false},
		{"README.md", true},
		{"sub/file.go", true}, // "*" matches the directory sub, "!*.go" only top-level files
	}
	for _, tt := range tests {
		if got := ignored(patterns, tt.path); got != tt.want {
			t.Errorf("ignored(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if !matchPattern("docs/**/*.md", "docs/a/b/c.md") || !matchPattern("**/*.md", "x.md") {
		t.Error("** does not match across directories")
	}
}

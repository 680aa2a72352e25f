// docker.go: the simulated docker provider: docker:index/image:Image, built from a real
// context directory into a deterministic digest and "pushed" into the simulated registry.

package sim

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// DockerVersion is the version the simulated docker plugin reports.
const DockerVersion = "4.10.0"

// ImageToken is the only resource type the simulated docker provider serves.
const ImageToken = "docker:index/image:Image"

// DockerProvider is the simulated docker provider.
type DockerProvider struct {
	base
	// workDir resolves relative build contexts and Dockerfiles: the engine starts
	// plugins in the project directory, as the real provider expects.
	workDir string
}

// NewDockerProvider returns the simulated docker provider on cloud c, resolving
// relative paths against workDir.
func NewDockerProvider(c *Cloud, workDir string) *DockerProvider {
	return &DockerProvider{base: newBase(c, ProviderDocker, DockerVersion), workDir: workDir}
}

// Configure accepts any provider configuration.
func (p *DockerProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return configured(), nil
}

func checkImageToken(tok string) error {
	if tok != ImageToken {
		return fmt.Errorf("the simulated docker provider does not know resource type %s: "+
			"teach tests/e2e/sim what Docker would do with it", tok)
	}
	return nil
}

// Check fills the build's defaults as the real provider does (context ".",
// Dockerfile <context>/Dockerfile, BuildKit) and records the build context's
// content hash as build.contextDigest, so that a change of a file in the context
// is a change of the inputs.
func (p *DockerProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkImageToken(tokenOf(req.GetType(), req.GetUrn())); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	if !present(news, "imageName") {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "imageName", Reason: "missing required property 'imageName'"})
	}
	build := resource.PropertyMap{}
	if v, ok := news["build"]; ok && v.IsObject() {
		build = v.ObjectValue().Copy()
	}
	if v, ok := news["build"]; !ok || v.IsObject() || v.IsNull() {
		if !present(build, "context") {
			build["context"] = resource.NewProperty(".")
		}
		buildCtx := propStr(build, "context")
		if !present(build, "dockerfile") && buildCtx != "" {
			build["dockerfile"] = resource.NewProperty(filepath.Join(buildCtx, "Dockerfile"))
		}
		if !present(build, "builderVersion") {
			build["builderVersion"] = resource.NewProperty("BuilderBuildKit")
		}
		// A context that is not there yet fails at build time, as with docker.
		if dockerfile := propStr(build, "dockerfile"); buildCtx != "" && dockerfile != "" {
			if digest, err := contextDigest(p.abs(buildCtx), p.abs(dockerfile)); err == nil {
				build["contextDigest"] = resource.NewProperty(digest)
			}
		}
		news["build"] = resource.NewProperty(build)
	}
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// notDiffed are inputs a change of which is no change of the image: the registry
// password (the real provider ignores it too: a fresh token every run must not
// rebuild) and buildOnPreview, which only says what a preview does.
var notDiffed = []string{"registry.password", "buildOnPreview"}

// Diff reports an update when anything but notDiffed changes; an image is never
// replaced.
func (p *DockerProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkImageToken(tokenOf(req.GetType(), req.GetUrn())); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, news = withoutPaths(olds, notDiffed), withoutPaths(news, notDiffed)
	news = applyIgnoreChanges(olds, news, req.GetIgnoreChanges())
	return diff(olds, news, func(string) bool { return false }), nil
}

func withoutPaths(m resource.PropertyMap, paths []string) resource.PropertyMap {
	m = m.Copy()
	v := resource.NewProperty(m)
	for _, p := range paths {
		if path, err := resource.ParsePropertyPath(p); err == nil {
			path.Delete(v)
		}
	}
	return m
}

// Create builds and pushes the image.
func (p *DockerProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	op := p.newOp(OpCreate, tok, req.GetUrn(), req.GetPreview())
	if err := checkImageToken(tok); err != nil {
		return nil, p.finish(op, err)
	}
	ins, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, p.finish(op, err)
	}
	op.Name = propStr(ins, "imageName")
	outs, err := p.buildAndPush(ctx, ins, req.GetPreview(), req.GetTimeout())
	if err != nil {
		return nil, p.finish(op, err)
	}
	op.ID = propStr(outs, "imageName")
	m, err := marshal(outs)
	if err != nil {
		return nil, p.finish(op, err)
	}
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: m}, p.finish(op, nil)
	}
	return &pulumirpc.CreateResponse{Id: op.ID, Properties: m}, p.finish(op, nil)
}

// Update builds and pushes the image again.
func (p *DockerProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	op := p.newOp(OpUpdate, tok, req.GetUrn(), req.GetPreview())
	op.ID = req.GetId()
	if err := checkImageToken(tok); err != nil {
		return nil, p.finish(op, err)
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, p.finish(op, err)
	}
	op.Name = propStr(news, "imageName")
	outs, err := p.buildAndPush(ctx, news, req.GetPreview(), req.GetTimeout())
	if err != nil {
		return nil, p.finish(op, err)
	}
	m, err := marshal(outs)
	if err != nil {
		return nil, p.finish(op, err)
	}
	return &pulumirpc.UpdateResponse{Properties: m}, p.finish(op, nil)
}

// Read keeps the state as it is while the registry holds the pushed digest, and
// says the image is gone when it does not (its registry was deleted, say), so
// that the next update pushes it again.
func (p *DockerProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	op := p.newOp(OpRead, tok, req.GetUrn(), false)
	op.ID = req.GetId()
	props, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, p.finish(op, err)
	}
	op.Name = propStr(props, "imageName")
	if repoDigest := propStr(props, "repoDigest"); repoDigest != "" {
		images, err := p.cloud.Images()
		if err != nil {
			return nil, p.finish(op, err)
		}
		repo, digest, _ := strings.Cut(repoDigest, "@")
		found := false
		for _, im := range images {
			if strings.EqualFold(im.Registry+"/"+im.Repository, repo) && im.Digest == digest {
				found = true
			}
		}
		if !found {
			op.Note = "not found: the registry does not hold " + repoDigest
			return &pulumirpc.ReadResponse{}, p.finish(op, nil)
		}
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, p.finish(op, nil)
}

// Delete does nothing but log: the real provider leaves the pushed image in the
// registry.
func (p *DockerProvider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	op := p.newOp(OpDelete, tokenOf(req.GetType(), req.GetUrn()), req.GetUrn(), false)
	op.ID = req.GetId()
	op.Note = "nothing to do: the image stays in the registry"
	return &emptypb.Empty{}, p.finish(op, nil)
}

// buildAndPush builds ins's image and pushes it (not in a preview), returning the
// outputs. The registry block is not among the outputs: its password stays in the
// (secret) inputs only.
func (p *DockerProvider) buildAndPush(ctx context.Context, ins resource.PropertyMap, preview bool, timeout float64) (resource.PropertyMap, error) {
	build := object(ins, "build")
	registry := object(ins, "registry")
	outs := ins.Copy()
	delete(outs, "registry")
	outs["baseImageName"] = ins["imageName"]
	for _, k := range []resource.PropertyKey{"context", "dockerfile", "platform"} {
		if v, ok := build[k]; ok {
			outs[k] = v
		}
	}
	outs["registryServer"] = resource.NewProperty("")
	if v, ok := registry["server"]; ok {
		outs["registryServer"] = v
	}
	if preview {
		outs["repoDigest"] = resource.MakeComputed(resource.NewProperty(""))
		return outs, nil
	}

	imageName := propStr(ins, "imageName")
	buildCtx, dockerfile, platform := propStr(build, "context"), propStr(build, "dockerfile"), propStr(build, "platform")
	ctxDir := p.abs(buildCtx)
	if fi, err := os.Stat(ctxDir); err != nil || !fi.IsDir() {
		// Docker's message, then where the simulator looked: the plugin's working
		// directory is the engine's choice, not the program's.
		return nil, fmt.Errorf("unable to prepare context: path %q not found (looked in %s)", buildCtx, p.workDir)
	}
	dockerfilePath := p.abs(dockerfile)
	if _, err := os.Lstat(dockerfilePath); err != nil {
		return nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", dockerfilePath)
	}
	lat, err := p.cloud.Latency()
	if err != nil {
		return nil, err
	}
	total := lat.CreateTime(KindImage)
	buildTime := time.Duration(BuildFraction * float64(total))

	op := p.newOp(OpBuild, ImageToken, "", false)
	op.Name, op.Image = imageName, imageName
	cd, err := contextDigest(ctxDir, dockerfilePath)
	if err == nil {
		err = p.wait(ctx, buildTime, timeout)
	}
	if err != nil {
		return nil, p.finish(op, fmt.Errorf("building %s: %w", imageName, err))
	}
	sum := sha256.Sum256([]byte(cd + "\x00" + platform + "\x00" + dockerfile))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	op.Digest = digest
	if err := p.finish(op, nil); err != nil {
		return nil, err
	}

	repo, tag := splitImageName(imageName)
	outs["repoDigest"] = resource.NewProperty(repo + "@" + digest)
	if skip := ins["skipPush"]; skip.IsBool() && skip.BoolValue() {
		return outs, nil
	}
	server := propStr(registry, "server")
	if server == "" {
		server, _, _ = strings.Cut(repo, "/")
	}
	password := propStr(registry, "password")
	pwSum := sha256.Sum256([]byte(password))
	push := p.newOp(OpPush, ImageToken, "", false)
	push.Name, push.Image, push.Digest, push.Registry = imageName, imageName, digest, server
	push.Username, push.PasswordSHA256 = propStr(registry, "username"), hex.EncodeToString(pwSum[:])
	if err := p.pushTo(ctx, server, repo, tag, digest, total-buildTime, timeout); err != nil {
		return nil, p.finish(push, err)
	}
	if err := p.finish(push, nil); err != nil {
		return nil, err
	}
	return outs, nil
}

// pushTo stores the image in the simulated registry at server, which must exist
// and let the deploying identity push, by its role assignment mode.
func (p *DockerProvider) pushTo(ctx context.Context, server, repo, tag, digest string, d time.Duration, timeout float64) error {
	lat, err := p.cloud.Latency()
	if err != nil {
		return err
	}
	s, err := p.cloud.snapshot()
	if err != nil {
		return err
	}
	if why := s.pushRefusal(server, time.Now(), lat); why != "" {
		return fmt.Errorf("failed to push %s: %s", repo, why)
	}
	if err := p.wait(ctx, d, timeout); err != nil {
		return fmt.Errorf("pushing %s: %w", repo, err)
	}
	return p.cloud.mutate(func(s *cloudState) error {
		if s.registryByServer(server) == nil {
			return fmt.Errorf("failed to push %s: the registry %s was deleted during the push", repo, server)
		}
		repository := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(repo), strings.ToLower(server)), "/")
		// A tag points at one image: the previous image under it loses the tag.
		for i := range s.Images {
			im := &s.Images[i]
			if strings.EqualFold(im.Registry, server) && im.Repository == repository && im.Tag == tag {
				im.Tag = ""
			}
		}
		s.Images = append(s.Images, Image{Registry: strings.ToLower(server), Repository: repository, Tag: tag, Digest: digest, PushedAt: time.Now()})
		return nil
	})
}

// splitImageName splits "host/repo:tag" into "host/repo" and "tag".
func splitImageName(name string) (repo, tag string) {
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// abs resolves p against the plugin's working directory.
func (p *DockerProvider) abs(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(p.workDir, name)
}

// object returns the known object at key k (a secret's value too), else an empty map.
func object(m resource.PropertyMap, k resource.PropertyKey) resource.PropertyMap {
	v := unwrap(m[k])
	if v.IsObject() {
		return v.ObjectValue()
	}
	return resource.PropertyMap{}
}

// contextDigest hashes what docker would send as the build context: the sorted
// relative paths and contents of the files under dir that .dockerignore keeps, and
// the Dockerfile.
func contextDigest(dir, dockerfile string) (string, error) {
	patterns, err := readDockerignore(dir)
	if err != nil {
		return "", err
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); !ignored(patterns, rel) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, rel := range files {
		fmt.Fprintf(h, "%s\x00", rel)
		if err := hashFile(h, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return "", err
		}
	}
	fmt.Fprint(h, "Dockerfile\x00")
	if err := hashFile(h, dockerfile); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFile writes a file's length and content (a symlink's target) to w.
func hashFile(w io.Writer, name string) error {
	fi, err := os.Lstat(name)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "symlink\x00%s\x00", target)
		return nil
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(w, "%d\x00", fi.Size())
	_, err = io.Copy(w, f)
	return err
}

// readDockerignore returns the patterns of dir/.dockerignore, cleaned as docker
// cleans them.
func readDockerignore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var patterns []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(line, "!")
		line = strings.TrimPrefix(path.Clean(strings.TrimSpace(line)), "/")
		if neg {
			line = "!" + line
		}
		patterns = append(patterns, line)
	}
	return patterns, sc.Err()
}

// ignored reports whether .dockerignore patterns exclude rel (slash-separated):
// the last pattern matching rel or one of its parent directories decides, a "!"
// pattern re-including.
func ignored(patterns []string, rel string) bool {
	out := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		for name := rel; name != "." && name != "/"; name = path.Dir(name) {
			if matchPattern(p, name) {
				out = !neg
				break
			}
		}
	}
	return out
}

// matchPattern matches a .dockerignore pattern: path.Match syntax plus "**" for
// any number of directories.
func matchPattern(pattern, name string) bool {
	if !strings.Contains(pattern, "**") {
		ok, _ := path.Match(pattern, name)
		return ok
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			i++
			if i+1 < len(pattern) && pattern[i+1] == '/' {
				i++
				b.WriteString("(.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(name)
}

// azure.go: the simulated azure-native provider, serving the resource types and invokes the guestbook program uses.

package sim

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// AzureVersion is the version the simulated azure-native plugin reports, whatever
// version the engine started it for.
const AzureVersion = "2.90.0"

// AzureProvider is the simulated azure-native provider: a resource provider server
// whose Azure is the simulated cloud.
type AzureProvider struct {
	base
	// location is the provider's configured region (azure-native:location), the
	// default location of resources that set none. The engine configures before
	// anything else, but RPCs run concurrently, so it is guarded all the same.
	mu       sync.Mutex
	location string
}

func (p *AzureProvider) defaultLocation() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.location
}

// NewAzureProvider returns the simulated azure-native provider on cloud c.
func NewAzureProvider(c *Cloud) *AzureProvider {
	return &AzureProvider{base: newBase(c, ProviderAzure, AzureVersion)}
}

// Configure records the default location.
func (p *AzureProvider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.location = propStr(args, "location")
	p.mu.Unlock()
	return configured(), nil
}

// Check autonames the resource like azure-native (logical name plus eight random
// hex characters, from the engine's seed so that it is deterministic; a role
// assignment gets a GUID), keeps the name it had on an update, defaults the
// location from the provider and reports missing required inputs.
func (p *AzureProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	k, err := kindOf(tokenOf(req.GetType(), req.GetUrn()))
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	nameKey := resource.PropertyKey(k.NameProp)
	if !present(news, k.NameProp) {
		if present(olds, k.NameProp) {
			news[nameKey] = olds[nameKey]
		} else {
			name, err := autoname(k, resource.URN(req.GetUrn()).Name(), req.GetRandomSeed())
			if err != nil {
				return nil, err
			}
			news[nameKey] = resource.NewProperty(name)
		}
	}
	if loc := p.defaultLocation(); k.located() && !present(news, "location") && loc != "" {
		news["location"] = resource.NewProperty(loc)
	}
	var failures []*pulumirpc.CheckFailure
	for _, key := range k.Required {
		if !present(news, key) {
			failures = append(failures, &pulumirpc.CheckFailure{
				Property: key, Reason: fmt.Sprintf("missing required property '%s'", key),
			})
		}
	}
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// autoname returns a new physical name for logical name logical.
func autoname(k *armKind, logical string, seed []byte) (string, error) {
	if k.Kind == KindRoleAssignment {
		h, err := resource.NewUniqueName(seed, "", 32, 0, nil)
		if err != nil {
			return "", err
		}
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	}
	return resource.NewUniqueName(seed, logical, 8, 0, nil)
}

// Diff compares old and new inputs. The name, resource group and location replace
// (and a cluster's DNS prefix; every input of a role assignment, which ARM
// refuses to update); anything else updates in place.
func (p *AzureProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	k, err := kindOf(tokenOf(req.GetType(), req.GetUrn()))
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	news = applyIgnoreChanges(olds, news, req.GetIgnoreChanges())
	return diff(olds, news, k.replaces), nil
}

// Create PUTs the resource: ARM holds it at once ("Creating"), and it succeeds
// after the kind's create latency. In a preview nothing is touched and every
// output ARM computes is unknown.
func (p *AzureProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	op := p.newOp(OpCreate, tok, req.GetUrn(), req.GetPreview())
	k, err := kindOf(tok)
	if err != nil {
		return nil, p.finish(op, err)
	}
	ins, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, p.finish(op, err)
	}
	op.Name = propStr(ins, k.NameProp)
	if req.GetPreview() {
		outs, err := marshal(previewCreate(k, ins))
		return &pulumirpc.CreateResponse{Properties: outs}, p.finish(op, err)
	}

	r := k.newResource(tok, req.GetUrn(), ins)
	op.ID = r.ID
	lat, err := p.cloud.Latency()
	if err != nil {
		return nil, p.finish(op, err)
	}
	d := lat.CreateTime(k.Kind)
	err = p.cloud.mutate(func(s *cloudState) error {
		now := time.Now()
		if s.find(r.ID) != nil {
			return fmt.Errorf("cannot create already existing resource '%s'", r.ID)
		}
		if err := k.validate(s, r, now, lat); err != nil {
			return err
		}
		r.CreatedAt, r.ReadyAt, r.ProvisioningState = now, now.Add(d), StateCreating
		r.Outputs = k.outputs(s, r, nil, now)
		s.Resources = append(s.Resources, r)
		return nil
	})
	if err != nil {
		return nil, p.finish(op, err)
	}
	// ARM goes on creating whatever happens to this request from here on.
	if err := p.wait(ctx, d, req.GetTimeout()); err != nil {
		return nil, p.finish(op, fmt.Errorf("creating %s: %w", r.ID, err))
	}
	done, err := p.succeed(r.ID)
	if err != nil {
		return nil, p.finish(op, err)
	}
	op.Note = done.Note
	outs, err := marshal(keepSecrets(fromPlain(done.Outputs), ins))
	if err != nil {
		return nil, p.finish(op, err)
	}
	return &pulumirpc.CreateResponse{Id: done.ID, Properties: outs}, p.finish(op, nil)
}

// newResource is the cloud record of a resource of kind k with inputs ins.
func (k *armKind) newResource(tok, urn string, ins resource.PropertyMap) *Resource {
	in := plainMap(ins)
	r := &Resource{Type: k.ARMType, Kind: k.Kind, Name: str(in, k.NameProp), Token: tok, URN: urn, Inputs: in}
	r.ID = k.idOf(in)
	switch k.Kind {
	case KindResourceGroup:
	case KindRoleAssignment:
		r.ResourceGroup = resourceGroupOf(str(in, "scope"))
	case KindDCRA, KindDiagnostics:
		r.ResourceGroup = resourceGroupOf(str(in, "resourceUri"))
	default:
		r.ResourceGroup = str(in, "resourceGroupName")
	}
	return r
}

// previewCreate is what a preview of a create answers: the inputs, and every
// output only ARM knows as unknown.
func previewCreate(k *armKind, ins resource.PropertyMap) resource.PropertyMap {
	outs := ins.Copy()
	for _, path := range k.Computed {
		setUnknown(outs, path)
	}
	return outs
}

func setUnknown(m resource.PropertyMap, path []string) {
	key := resource.PropertyKey(path[0])
	if len(path) == 1 {
		m[key] = resource.MakeComputed(resource.NewProperty(""))
		return
	}
	inner := resource.PropertyMap{}
	if v, ok := m[key]; ok && v.IsObject() {
		inner = v.ObjectValue().Copy()
	}
	setUnknown(inner, path[1:])
	m[key] = resource.NewProperty(inner)
}

// succeed marks resource id Succeeded and returns it.
func (p *AzureProvider) succeed(id string) (Resource, error) {
	var done Resource
	err := p.cloud.mutate(func(s *cloudState) error {
		r := s.find(id)
		if r == nil {
			return fmt.Errorf("resource '%s' was deleted while it was being created or updated", id)
		}
		if r.ProvisioningState != StateDeleting {
			setProvisioningState(r, StateSucceeded)
		}
		done = *r
		if r.Kind == KindCluster {
			done.Outputs = withPools(s, r)
		}
		return nil
	})
	return done, err
}

// Update PUTs the new inputs; it completes after the kind's update latency. A
// preview answers the old outputs under the new inputs: the simulated ARM never
// changes a computed output on update.
func (p *AzureProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	op := p.newOp(OpUpdate, tok, req.GetUrn(), req.GetPreview())
	op.ID = req.GetId()
	k, err := kindOf(tok)
	if err != nil {
		return nil, p.finish(op, err)
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, p.finish(op, err)
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, p.finish(op, err)
	}
	op.Name = propStr(news, k.NameProp)
	if req.GetPreview() {
		outs := olds.Copy()
		for key, v := range news {
			outs[key] = v
		}
		m, err := marshal(outs)
		return &pulumirpc.UpdateResponse{Properties: m}, p.finish(op, err)
	}

	lat, err := p.cloud.Latency()
	if err != nil {
		return nil, p.finish(op, err)
	}
	d := lat.UpdateTime(k.Kind)
	var id string
	err = p.cloud.mutate(func(s *cloudState) error {
		now := time.Now()
		r := s.find(req.GetId())
		if r == nil {
			// A PUT creates what is not there: an update of a resource deleted
			// behind Pulumi's back recreates it.
			r = k.newResource(tok, req.GetUrn(), news)
			if err := k.validate(s, r, now, lat); err != nil {
				return err
			}
			r.CreatedAt = now
			r.Note = "recreated by an update: it had been deleted"
			s.Resources = append(s.Resources, r)
		} else if err := k.validateUpdate(s, r, r.Inputs, plainMap(news), now, lat); err != nil {
			return err
		}
		prev := r.Outputs
		r.Inputs = plainMap(news)
		r.ReadyAt, r.ProvisioningState = now.Add(d), StateUpdating
		r.Outputs = k.outputs(s, r, prev, now)
		id = r.ID
		return nil
	})
	if err != nil {
		return nil, p.finish(op, err)
	}
	if err := p.wait(ctx, d, req.GetTimeout()); err != nil {
		return nil, p.finish(op, fmt.Errorf("updating %s: %w", id, err))
	}
	done, err := p.succeed(id)
	if err != nil {
		return nil, p.finish(op, err)
	}
	outs, err := marshal(keepSecrets(fromPlain(done.Outputs), news))
	if err != nil {
		return nil, p.finish(op, err)
	}
	return &pulumirpc.UpdateResponse{Properties: outs}, p.finish(op, nil)
}

// Read returns what ARM holds for the id, or an empty id when it holds nothing
// (the engine then drops the resource from the state). The inputs it returns are
// azure-native's approximation (provider.go, Read): the old inputs, changed only
// where Azure's answer changed since the last write, compared on the
// input-shaped projection of old and new outputs. So defaults Azure filled in at
// create do not show as drift, and what changed behind Pulumi's back (the
// autoscaler's count, the patch channel's version) does.
func (p *AzureProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	op := p.newOp(OpRead, tok, req.GetUrn(), false)
	op.ID = req.GetId()
	k, err := kindOf(tok)
	if err != nil {
		return nil, p.finish(op, err)
	}
	s, err := p.cloud.snapshot()
	if err != nil {
		return nil, p.finish(op, err)
	}
	r := s.find(req.GetId())
	if r == nil {
		op.Note = "not found"
		return &pulumirpc.ReadResponse{}, p.finish(op, nil)
	}
	op.Name = r.Name
	oldState, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, p.finish(op, err)
	}
	oldInputs, err := unmarshal(req.GetInputs())
	if err != nil {
		return nil, p.finish(op, err)
	}
	inputs := r.Inputs // an import: no old inputs to start from
	if len(oldInputs) > 0 {
		inputs = applyChanges(plainMap(oldInputs), k.projection(plainMap(oldState)), k.projection(withPoolsOf(s, r)))
	}
	answer := r.Outputs
	if r.Kind == KindCluster {
		answer = withPools(s, r)
	}
	outs, err := marshal(keepSecrets(fromPlain(answer), oldInputs))
	if err != nil {
		return nil, p.finish(op, err)
	}
	ins, err := marshal(keepSecrets(fromPlain(inputs), oldInputs))
	if err != nil {
		return nil, p.finish(op, err)
	}
	return &pulumirpc.ReadResponse{Id: r.ID, Properties: outs, Inputs: ins}, p.finish(op, nil)
}

// Delete DELETEs the resource and everything under it (a resource group takes its
// resources along); it is gone after the kind's delete latency. Deleting what is
// already gone succeeds, as ARM answers 204.
func (p *AzureProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	op := p.newOp(OpDelete, tok, req.GetUrn(), false)
	op.ID = req.GetId()
	k, err := kindOf(tok)
	if err != nil {
		return nil, p.finish(op, err)
	}
	lat, err := p.cloud.Latency()
	if err != nil {
		return nil, p.finish(op, err)
	}
	d := lat.DeleteTime(k.Kind)
	var gone bool
	err = p.cloud.mutate(func(s *cloudState) error {
		r := s.find(req.GetId())
		if r == nil {
			gone = true
			return nil
		}
		op.Name = r.Name
		readyAt := time.Now().Add(d)
		for _, o := range s.Resources {
			if under(o.ID, r.ID) && o.ProvisioningState != StateDeleting {
				o.ReadyAt = readyAt
				setProvisioningState(o, StateDeleting)
			}
		}
		return nil
	})
	if err != nil {
		return nil, p.finish(op, err)
	}
	if gone {
		op.Note = "already gone"
		return &emptypb.Empty{}, p.finish(op, nil)
	}
	if err := p.wait(ctx, d, req.GetTimeout()); err != nil {
		return nil, p.finish(op, fmt.Errorf("deleting %s: %w", req.GetId(), err))
	}
	err = p.cloud.mutate(func(s *cloudState) error {
		s.remove(req.GetId())
		return nil
	})
	return &emptypb.Empty{}, p.finish(op, err)
}

// Invoke answers getClientToken and listManagedClusterUserCredentials (any API
// version); anything else is an error, so a new data source cannot slip into the
// rehearsal unnoticed.
func (p *AzureProvider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	op := p.newOp(OpInvoke, req.GetTok(), "", req.GetPreview())
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, p.finish(op, err)
	}
	ret, err := p.invoke(op, req.GetTok(), args)
	if err != nil {
		return nil, p.finish(op, err)
	}
	m, err := marshal(ret)
	if err != nil {
		return nil, p.finish(op, err)
	}
	return &pulumirpc.InvokeResponse{Return: m}, p.finish(op, nil)
}

func (p *AzureProvider) invoke(op *Operation, tok string, args resource.PropertyMap) (resource.PropertyMap, error) {
	pkg, module, fn, _ := splitToken(tok)
	switch {
	case pkg == "azure-native" && module == "authorization" && fn == "getClientToken":
		// azure-native asks Entra for "<endpoint>/.default", ARM's when no
		// endpoint is given (provider.go, tokenEndpoint): the token's audience.
		aud := tenant.AudienceOf(propStr(args, "endpoint"))
		return resource.PropertyMap{"token": resource.NewProperty(tenant.Token(deployer, aud, time.Now().Add(time.Hour)))}, nil
	case pkg == "azure-native" && module == "containerservice" && fn == "listManagedClusterUserCredentials":
		rg, name := propStr(args, "resourceGroupName"), propStr(args, "resourceName")
		id := rgID(rg) + "/providers/" + armKinds["containerservice:ManagedCluster"].ARMType + "/" + name
		op.ID, op.Name = id, name
		s, err := p.cloud.snapshot()
		if err != nil {
			return nil, err
		}
		if s.find(rgID(rg)) == nil {
			return nil, errResourceGroupNotFound(rg)
		}
		c := s.find(id)
		if c == nil || c.ProvisioningState == StateDeleting {
			return nil, errResourceNotFound(id)
		}
		lat, err := p.cloud.Latency()
		if err != nil {
			return nil, err
		}
		if ok, _ := s.holds(deployer, mayListUserCredentials, c.ID, time.Now(), lat); !ok {
			return nil, errAuthorizationFailed(deployer, "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", c.ID)
		}
		local, err := p.cloud.kubeconfig()
		if err != nil {
			return nil, err
		}
		kubeconfig, err := userCredentials(local, c, propStr(args, "format"))
		if err != nil {
			return nil, err
		}
		return resource.PropertyMap{"kubeconfigs": resource.NewProperty([]resource.PropertyValue{
			resource.NewProperty(resource.PropertyMap{
				"name":  resource.NewProperty("clusterUser"),
				"value": resource.NewProperty(base64.StdEncoding.EncodeToString(kubeconfig)),
			}),
		})}, nil
	}
	return nil, fmt.Errorf("the simulated azure-native provider does not know function %s: "+
		"teach tests/e2e/sim what Azure would answer", tok)
}

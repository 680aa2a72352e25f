// Package tenant is the Azure tenant every test double of this repository answers
// for: the subscription, the tenant, the deploying identity and the Entra tokens
// it is given. The Pulumi mocks (tests/stacktest) and the rehearsal's simulated
// Azure (tests/e2e/sim) both use it, so code that parses these values sees the
// same ones in both kinds of test, and a value is defined once.
package tenant

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

const (
	// SubscriptionID is the subscription everything is deployed to.
	SubscriptionID = "6f1c3e2a-9b4d-4c1e-8a7f-2d5b9e0c4a13"
	// TenantID is the Entra tenant.
	TenantID = "0b7d2f4e-3c8a-4e6b-9d1f-5a2c8e7b6d40"
	// DeployerObjectID is the object id of the identity running `pulumi up`: a
	// service principal, as in CI. It is among the stack's cluster admins.
	DeployerObjectID = "9a4e1c7b-2d3f-4b8a-8e6d-0f1a2b3c4d5e"
	// DeployerClientID is its application (client) id: what a federated sign-in
	// names (ARM_CLIENT_ID, AZURE_CLIENT_ID).
	DeployerClientID = "5c1d8e2f-7a3b-4c6d-9e0f-1a2b3c4d5e6f"
)

// Token audiences (the Entra resources tokens are asked for).
const (
	// ARMAudience is Azure Resource Manager's, getClientToken's default.
	ARMAudience = "https://management.azure.com"
	// RegistryAudience is Azure Container Registry's.
	RegistryAudience = "https://containerregistry.azure.net"
	// AKSAudience is the AKS Entra server application's, the audience of every
	// token an Entra-integrated cluster accepts.
	AKSAudience = "6dae42f8-4368-4678-94ff-3960e28e3630"
)

// Claims are the parts of an Entra access token the test doubles read.
type Claims struct {
	Audience string `json:"aud"`
	ObjectID string `json:"oid"`
	TenantID string `json:"tid"`
	// Expires is seconds since the epoch.
	Expires int64 `json:"exp"`
}

// header is a JWT header; the doubles never check a signature.
const header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9"

// Token returns an access token for principal with audience aud, valid until
// expires. It looks like an Entra JWT (three base64url parts), so code that
// splits or logs tokens is exercised as with real ones.
func Token(principal, aud string, expires time.Time) string {
	payload, err := json.Marshal(Claims{Audience: aud, ObjectID: principal, TenantID: TenantID, Expires: expires.Unix()})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return header + "." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ltdWxhdGVkLXNpZ25hdHVyZQ"
}

// Never is the expiry of the tokens the mocks hand out: they are never stale.
var Never = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

// DeployerToken is the deploying identity's token for aud, as the mocks hand it out.
func DeployerToken(aud string) string { return Token(DeployerObjectID, aud, Never) }

// ParseToken reads the claims of a token made by Token.
func ParseToken(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a JWT: want three dot-separated parts")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("JWT payload: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return Claims{}, fmt.Errorf("JWT payload: %w", err)
	}
	return c, nil
}

// AudienceOf returns the audience Entra gives a token asked for with resource
// endpoint (getClientToken's endpoint): the endpoint itself without a trailing
// slash, ARM's when it is empty.
func AudienceOf(endpoint string) string {
	if endpoint == "" {
		return ARMAudience
	}
	return strings.TrimSuffix(endpoint, "/")
}

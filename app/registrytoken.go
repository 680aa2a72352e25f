// registrytoken.go: registry push credentials from the deploying identity, without the admin user.

package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
)

// acrTokenUsername is the user name ACR expects with a refresh token as password
// (what `az acr login --expose-token` prints).
const acrTokenUsername = "00000000-0000-0000-0000-000000000000"

// exchangeTimeout bounds one token exchange, retries included. The exchange is a
// single small POST; a registry that does not answer in this time will not answer a
// 100 MB push either, and `pulumi up` should fail instead of hanging.
const exchangeTimeout = 60 * time.Second

// tokenExchanger turns an Azure AD access token into an ACR refresh token through the
// registry's /oauth2/exchange endpoint, using the maintained Azure SDK client rather
// than hand-written HTTP.
type tokenExchanger struct {
	// clientOptions configures the SDK client; tests point its transport at a local server.
	clientOptions azcontainerregistry.AuthenticationClientOptions
	// timeout bounds the whole exchange.
	timeout time.Duration
}

func newTokenExchanger() *tokenExchanger {
	return &tokenExchanger{
		clientOptions: azcontainerregistry.AuthenticationClientOptions{
			ClientOptions: policy.ClientOptions{
				Retry: policy.RetryOptions{MaxRetries: 3, TryTimeout: 20 * time.Second},
			},
		},
		timeout: exchangeTimeout,
	}
}

// Exchange returns an ACR refresh token for the registry at endpoint (for example
// https://guestbookacr1a2b3c4d.azurecr.io) whose service name is service (its login
// server), in exchange for aadToken.
func (x *tokenExchanger) Exchange(ctx context.Context, endpoint, service, aadToken string) (string, error) {
	if aadToken == "" {
		return "", errors.New("exchanging Azure token for a registry token: the Azure access token is empty")
	}
	client, err := azcontainerregistry.NewAuthenticationClient(endpoint, &x.clientOptions)
	if err != nil {
		return "", fmt.Errorf("creating registry authentication client for %s: %w", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	resp, err := client.ExchangeAADAccessTokenForACRRefreshToken(ctx,
		azcontainerregistry.PostContentSchemaGrantTypeAccessToken, service,
		&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{
			AccessToken: &aadToken,
		})
	if err != nil {
		// A 401 here means the registry rejected the Azure token itself (expired, other
		// tenant, wrong audience); a missing push permission shows up later, at the push.
		// The SDK's error carries the status code and the registry's message.
		return "", fmt.Errorf("exchanging Azure token for a registry token at %s: %w", endpoint, err)
	}
	if resp.RefreshToken == nil || *resp.RefreshToken == "" {
		return "", fmt.Errorf("exchanging Azure token for a registry token at %s: the registry returned no refresh token", endpoint)
	}
	return *resp.RefreshToken, nil
}

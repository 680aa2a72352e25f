// serve.go: running a simulated provider as a plugin process, the way the Pulumi engine starts one.

package sim

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// Serve runs srv as a resource provider plugin until the engine is done with it:
// it serves gRPC on a free loopback port, prints the port on stdout (the plugin
// protocol's handshake; nothing else may be printed there), stops on SIGINT or
// SIGTERM or when the engine at the address in its arguments stops answering, and
// dies with its parent process.
//
// It does what the SDK's provider.Main does, without the OpenTelemetry bridge that
// provider.Main imports and the root module does not require.
func Serve(srv pulumirpc.ResourceProviderServer) error {
	if err := dieWithParent(); err != nil {
		return err
	}
	// The engine passes logging and tracing flags before the engine's address.
	flags := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	flags.Bool("logtostderr", false, "ignored")
	flags.Int("v", 0, "ignored")
	flags.String("tracing", "", "ignored")
	if err := flags.Parse(os.Args[1:]); err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if flags.NArg() > 0 {
		if err := rpcutil.Healthcheck(ctx, flags.Arg(0), 5*time.Minute, cancel); err != nil {
			return fmt.Errorf("watching the engine at %s: %w", flags.Arg(0), err)
		}
	}
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, srv)
			return nil
		},
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d\n", handle.Port)
	return <-handle.Done
}

// Package client dials the AI4V-C edge (Envoy) with an API key or a JWT on every call and
// decodes the platform's rich errors (google.rpc.ErrorInfo, BadRequest, RetryInfo).
//
// The service stubs are generated (make sdks) under ai4vc/<api>/v1, e.g.
//
//	conn, err := client.Dial(ctx, "127.0.0.1:8080", client.WithAPIKey(key))
//	nmt := nmtv1.NewNmtServiceClient(conn)
package client

import (
	"context"
	"crypto/tls"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// APIKeyHeader is the metadata key the edge reads API keys from.
const APIKeyHeader = "x-api-key"

type options struct {
	apiKey      string
	accessToken func() string
	tls         *tls.Config
	dialOptions []grpc.DialOption
}

// Option configures Dial.
type Option func(*options)

// WithAPIKey sends the API key on every call.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithAccessToken sends "authorization: Bearer <token>" on every call; token is asked for
// each call, so a caller can refresh it.
func WithAccessToken(token func() string) Option { return func(o *options) { o.accessToken = token } }

// WithTLS dials with TLS (nil config: system roots). Without it the connection is plaintext
// (h2c), as the local edge serves.
func WithTLS(config *tls.Config) Option {
	return func(o *options) {
		if config == nil {
			config = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.tls = config
	}
}

// WithDialOptions passes extra grpc.DialOptions.
func WithDialOptions(extra ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, extra...) }
}

type perRPC struct {
	o      *options
	secure bool
}

func (p perRPC) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	md := map[string]string{}
	if p.o.apiKey != "" {
		md[APIKeyHeader] = p.o.apiKey
	}
	if p.o.accessToken != nil {
		md["authorization"] = "Bearer " + p.o.accessToken()
	}
	return md, nil
}

func (p perRPC) RequireTransportSecurity() bool { return p.secure }

// Dial connects to the edge at target ("host:port") and blocks until connected or ctx ends.
func Dial(ctx context.Context, target string, opts ...Option) (*grpc.ClientConn, error) {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	transport := grpc.WithInsecure() //nolint:staticcheck // grpc-go 1.33 (Debian) has no insecure package
	if o.tls != nil {
		transport = grpc.WithTransportCredentials(credentials.NewTLS(o.tls))
	}
	dial := append([]grpc.DialOption{
		transport,
		grpc.WithPerRPCCredentials(perRPC{o: o, secure: o.tls != nil}),
		grpc.WithBlock(),
	}, o.dialOptions...)
	return grpc.DialContext(ctx, target, dial...)
}

// Details is what the platform puts in an error's google.rpc.Status details.
type Details struct {
	Reason          string
	Metadata        map[string]string
	FieldViolations []*errdetails.BadRequest_FieldViolation
	RetryDelay      time.Duration
}

// ErrorDetails decodes ErrorInfo, BadRequest and RetryInfo from a call's error.
func ErrorDetails(err error) Details {
	var d Details
	st, ok := status.FromError(err)
	if !ok {
		return d
	}
	for _, detail := range st.Details() {
		switch v := detail.(type) {
		case *errdetails.ErrorInfo:
			d.Reason, d.Metadata = v.GetReason(), v.GetMetadata()
		case *errdetails.BadRequest:
			d.FieldViolations = append(d.FieldViolations, v.GetFieldViolations()...)
		case *errdetails.RetryInfo:
			if delay := v.GetRetryDelay(); delay != nil {
				d.RetryDelay = time.Duration(delay.GetSeconds())*time.Second + time.Duration(delay.GetNanos())
			}
		}
	}
	return d
}

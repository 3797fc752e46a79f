module github.com/ai4vc/ai4vc/sdk/go

// Versions are Debian bookworm's (the packages CI builds against in GOPATH mode, see
// README.md); with a module proxy, `go mod tidy` resolves these and writes go.sum.
go 1.19

require (
	google.golang.org/genproto v0.0.0-20200413115906-b5235f65be36
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

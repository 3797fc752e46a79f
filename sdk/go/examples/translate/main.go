// Example: translate text with NmtService.TranslateText through the edge (Envoy).
//
//	AI4VC_API_KEY=... go run ./examples/translate -target 127.0.0.1:8080 -from hi -to ur "text"
//
// Prints one translation per line; exits 1 with the error's code and reason on failure.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc/status"

	nmtv1 "github.com/ai4vc/ai4vc/sdk/go/ai4vc/nmt/v1"
	"github.com/ai4vc/ai4vc/sdk/go/client"
)

func main() {
	target := flag.String("target", envOr("AI4VC_TARGET", "127.0.0.1:8080"), "the edge, host:port")
	from := flag.String("from", "hi", "source language (BCP-47)")
	to := flag.String("to", "ur", "target language (BCP-47)")
	flag.Parse()
	key := os.Getenv("AI4VC_API_KEY")
	if key == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: AI4VC_API_KEY=... translate [-target host:port] [-from hi] [-to ur] TEXT...")
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, *target, client.WithAPIKey(key))
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: cannot reach %s: %v\n", *target, err)
		os.Exit(1)
	}
	defer conn.Close()

	answer, err := nmtv1.NewNmtServiceClient(conn).TranslateText(ctx, &nmtv1.TranslateTextRequest{
		Contents:           flag.Args(),
		SourceLanguageCode: *from,
		TargetLanguageCode: *to,
	})
	if err != nil {
		st := status.Convert(err)
		details := client.ErrorDetails(err)
		fmt.Fprintf(os.Stderr, "error: %s %s: %s\n", st.Code(), details.Reason, st.Message())
		for _, v := range details.FieldViolations {
			fmt.Fprintf(os.Stderr, "  %s: %s\n", v.GetField(), v.GetDescription())
		}
		os.Exit(1)
	}
	for _, t := range answer.GetTranslations() {
		fmt.Println(t.GetTranslatedText())
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

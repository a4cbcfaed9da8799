package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// verifyToken is `latch verify`: it checks a JWT against an issuer's published JWKS
// (found through discovery, as any resource server would) and prints its claims.
func verifyToken(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("latch verify", flag.ContinueOnError)
	issuer := fs.String("issuer", "http://localhost:3001/oidc", "issuer whose JWKS signs the token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: latch verify [--issuer URL] TOKEN")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, *issuer)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return err
	}
	payload, err := oidc.NewRemoteKeySet(ctx, meta.JWKSURI).VerifySignature(ctx, fs.Arg(0))
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return err
	}
	if exp, ok := claims["exp"].(float64); ok && time.Unix(int64(exp), 0).Before(time.Now()) {
		return errors.New("token expired")
	}
	out, _ := json.MarshalIndent(claims, "", "  ")
	fmt.Fprintf(stdout, "signature OK (verified against %s)\n%s\n", meta.JWKSURI, out)
	return nil
}

// Command latch is the Latch OpenID Provider: `latch serve` runs a node.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

const usage = `latch: an OpenID Provider and identity core, wire-compatible with Logto.

Usage:
  latch serve [flags]   run a node (latch serve -h lists flags; every flag is also LATCH_<FLAG>)
  latch bench [flags]   load-test an OpenID Provider (latch bench -h; latch bench compare a.json b.json)
  latch verify TOKEN    verify a JWT against an issuer's JWKS (--issuer, default http://localhost:3001/oidc)
  latch version         print the version
`

var version = "dev"

// defaultGCPercent is the garbage collector's target when GOGC is not set. Latch's live
// heap is small (the block cache, the directory, active grains) and its request paths
// allocate briskly, so Go's default of 100 collects often: 200 took ~9 % off the
// server CPU per refresh under latch bench (GC was ~14 % of it) for a few tens of MB
// more heap. `latch serve` also keeps the heap goal at least heapFloor (keepHeapFloor).
// GOGC, when set, wins over both.
const defaultGCPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServeConfig(args[1:], os.Getenv)
		if err != nil {
			fmt.Fprintf(stderr, "latch serve: %v\n", err)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if os.Getenv("GOGC") == "" {
			go keepHeapFloor(ctx, heapFloor, defaultGCPercent, time.Second)
		}
		served := make(chan struct{})
		defer close(served)
		go stopWatchdog(ctx, stop, served, cfg.StopTimeout, stderr, func() { os.Exit(1) })
		if err := serve(ctx, cfg, stdout, stderr, nil); err != nil {
			fmt.Fprintf(stderr, "latch serve: %v\n", err)
			return 1
		}
		return 0
	case "bench":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runBench(ctx, args[1:], stdout, stderr)
	case "verify":
		if err := verifyToken(context.Background(), args[1:], stdout); err != nil {
			fmt.Fprintf(stderr, "latch verify: %v\n", err)
			return 1
		}
		return 0
	case "version":
		fmt.Fprintln(stdout, "latch", version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "latch: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// defaultStopTimeout keeps a graceful stop inside Kubernetes' default grace period (30 s).
const defaultStopTimeout = 25 * time.Second

// stopWatchdog bounds a graceful stop: once ctx ends (the first SIGTERM or SIGINT) it
// restores the signals' default action (stop), so that a second one ends the process at
// once, and calls exit if serve has not returned (served) within budget. Every write
// Latch acknowledged is durable by then, so such an exit is a crash the cluster
// tolerates, not a loss.
func stopWatchdog(ctx context.Context, stop func(), served <-chan struct{}, budget time.Duration, stderr io.Writer, exit func()) {
	select {
	case <-ctx.Done():
	case <-served:
		return
	}
	stop()
	t := time.NewTimer(budget)
	defer t.Stop()
	select {
	case <-served:
	case <-t.C:
		fmt.Fprintf(stderr, "latch serve: the graceful stop took longer than --stop-timeout (%v): exiting now; nothing acknowledged is lost\n", budget)
		exit()
	}
}

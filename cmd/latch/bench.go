package main

import (
	"context"
	"io"
	"os"

	"github.com/latchid/latch/bench"
)

// runBench handles `latch bench [flags] [scenario]`, `latch bench compare a.json b.json`
// and `latch bench list` (package bench does the work; see `latch bench -h`). ctx is
// cancelled on SIGINT/SIGTERM: the run stops, tears down what it created, and still
// prints its partial report. Returns the exit code: 0 ok, 1 failed or interrupted,
// 2 usage, 3 the run completed but some requests failed.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := &bench.Command{
		Version: version,
		Argv:    os.Args,
		Stdout:  stdout,
		Stderr:  stderr,
		Getenv:  os.Getenv,
	}
	return cmd.Run(ctx, args)
}

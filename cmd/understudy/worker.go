package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/understudy/understudy/steps/dataset"
)

// workerCommand is the hidden command a comparison worker runs: it is not
// listed in the usage, and takes its request on standard input.
const workerCommand = "internal-compare"

// runWorker serves one comparison for dataset.Worker.
func runWorker(_ []string, stdout, stderr io.Writer) int {
	if err := dataset.ServeWorker(context.Background(), os.Stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "understudy %s: %v\n", workerCommand, err)
		return exitInternal
	}
	return exitOK
}

// comparer runs the verify steps' full comparisons in a child process of
// this binary at niceness 10, so that they do not hold back the write
// probe and the endpoint proxy of this process; in this process when the
// binary cannot be found.
func comparer() dataset.Comparer {
	exe, err := os.Executable()
	if err != nil {
		return dataset.InProcess{}
	}
	return &dataset.Worker{Command: []string{exe, workerCommand}, Nice: 10}
}

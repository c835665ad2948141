// Command samplegen writes testdata/cloudtrail/sample.ndjson.gz, the
// synthetic CloudTrail that the quick start replays: 4,000 events over 20
// days from internal/synth, with web-identity tokens replayed from new
// networks among them. Run by `go generate ./internal/synth`; a test checks
// that the committed file is exactly this output.
package main

import (
	"compress/gzip"
	"flag"
	"log"
	"os"
	"time"

	"github.com/newterms/newterms/internal/synth"
)

func main() {
	out := flag.String("o", "testdata/cloudtrail/sample.ndjson.gz", "output file")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	for _, ev := range synth.Stream(Sample) {
		zw.Write(ev.JSON)
		zw.Write([]byte("\n"))
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// Sample is the stream of the bundled sample.
var Sample = synth.Options{Seed: 2026, Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Days: 20, Events: 4000}

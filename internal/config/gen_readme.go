//go:build ignore

// gen_readme rewrites the README's table of configuration keys from their
// declarations: go generate ./internal/config.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/config/internal/readme"
)

func main() {
	path := flag.String("readme", "../../README.md", "the README whose table to rewrite")
	flag.Parse()
	doc, err := os.ReadFile(*path)
	if err == nil {
		doc, err = readme.Rewrite(doc, readme.Table(config.Keys()))
	}
	if err == nil {
		err = os.WriteFile(*path, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_readme:", err)
		os.Exit(1)
	}
}

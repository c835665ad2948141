package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/config/internal/readme"
)

// The README's table of keys is exactly what their declarations generate:
// a key, a default or a help text changed without go generate fails here.
func TestREADMETable(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readme.Section(doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := readme.Table(config.Keys()); got != want {
		t.Errorf("README.md's table of configuration keys differs from their declarations: run go generate ./internal/config\nREADME:\n%s\ndeclared:\n%s", got, want)
	}
}

// Rewriting replaces the table and nothing else, and again changes nothing.
func TestRewrite(t *testing.T) {
	cases := []struct {
		name, doc, want string
		ok              bool
	}{
		{"replaced", "intro\n" + readme.Begin + "\nold\nrows\n" + readme.End + "\nafter\n", "intro\n" + readme.Begin + "\nT\n" + readme.End + "\nafter\n", true},
		{"empty section", readme.Begin + "\n" + readme.End + "\n", readme.Begin + "\nT\n" + readme.End + "\n", true},
		{"no end", readme.Begin + "\nold\n", "", false},
		{"end first", readme.End + "\n" + readme.Begin + "\n", "", false},
		{"two tables", strings.Repeat(readme.Begin+"\nx\n"+readme.End+"\n", 2), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readme.Rewrite([]byte(c.doc), "T\n")
			if (err == nil) != c.ok || string(got) != c.want {
				t.Fatalf("Rewrite = %q, %v; want %q", got, err, c.want)
			}
			if !c.ok {
				return
			}
			again, err := readme.Rewrite(got, "T\n")
			if err != nil || string(again) != string(got) {
				t.Errorf("a second rewrite changed it: %q, %v", again, err)
			}
		})
	}
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/newterms/newterms/internal/asn"
)

// asnResult is one address as `newterms asn` prints it: the ECS fields the
// plugin would set, and which database said so.
type asnResult struct {
	Address  string    `json:"address"`
	Error    string    `json:"error,omitempty"`
	Source   *asSource `json:"source,omitempty"`
	Database struct {
		Type      string `json:"type"`
		Schema    string `json:"schema"`
		BuildDate string `json:"build_date"`
	} `json:"database"`
}

type asSource struct {
	AS struct {
		Number       uint32  `json:"number"`
		Organization *asName `json:"organization,omitempty"`
	} `json:"as"`
}

type asName struct {
	Name string `json:"name"`
}

func runASN(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("asn", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbPath := fl.String("db", "", "ASN database (MaxMind GeoLite2-ASN/GeoIP2-ISP, DB-IP ASN Lite or IPinfo Lite/ASN mmdb)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: newterms asn --db PATH IP...")
		fmt.Fprintln(stderr, "Prints one JSON object per address: source.as.* as the plugin would set them.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *dbPath == "" || fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	db, err := asn.Open(*dbPath, asn.Options{ReloadInterval: -1})
	if err != nil {
		fmt.Fprintf(stderr, "newterms asn: %v\n", err)
		return 1
	}
	defer db.Close()
	meta := db.Meta()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	status := 0
	for _, a := range fl.Args() {
		r := asnResult{Address: a}
		r.Database.Type, r.Database.Schema = meta.DatabaseType, string(meta.Schema)
		r.Database.BuildDate = meta.BuildTime.Format(time.RFC3339)
		if ip, err := netip.ParseAddr(a); err != nil || ip.Zone() != "" {
			r.Error = "not an IP address literal: never looked up"
			status = 1
		} else if info, found := db.Lookup(ip); found {
			r.Source = &asSource{}
			r.Source.AS.Number = info.Number
			if info.Org != "" {
				r.Source.AS.Organization = &asName{info.Org}
			}
		}
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "newterms asn: %v\n", err)
			return 1
		}
	}
	return status
}

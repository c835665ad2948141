// Command mmdbgen writes the small ASN databases the tests and the quick
// start use, in the two schemas users have: MaxMind GeoLite2-ASN (also
// GeoIP2-ISP and DB-IP ASN Lite) and IPinfo Lite. Run by `go generate
// ./internal/asn`; the output is committed and a test checks it matches.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// network is one entry: well-known public ASNs by their real numbers and
// names, IPv4 and IPv6. Private, reserved and unlisted space stays a gap.
type network struct {
	cidr string
	asn  uint32
	org  string // "" writes a record with a number only
}

var networks = []network{
	{"1.1.1.0/24", 13335, "Cloudflare, Inc."},
	{"2606:4700::/32", 13335, "Cloudflare, Inc."},
	{"8.8.8.0/24", 15169, "Google LLC"},
	{"2001:4860::/32", 15169, "Google LLC"},
	{"3.0.0.0/9", 16509, "Amazon.com, Inc."},
	{"52.94.0.0/16", 16509, "Amazon.com, Inc."},
	{"2600:1f00::/24", 16509, "Amazon.com, Inc."},
	{"20.0.0.0/11", 8075, "Microsoft Corporation"},
	{"140.82.112.0/20", 36459, "GitHub, Inc."},
	{"73.0.0.0/8", 7922, "Comcast Cable Communications, LLC"},
	{"2601::/20", 7922, "Comcast Cable Communications, LLC"},
	{"91.0.0.0/10", 3320, "Deutsche Telekom AG"},
	{"159.203.0.0/16", 14061, "DigitalOcean, LLC"},
	{"51.68.0.0/16", 16276, "OVH SAS"},
	{"185.220.100.0/22", 208294, "Foundation for Applied Privacy"},
	{"45.128.232.0/22", 9009, "M247 Europe SRL"},
	// As in Elastic's own test database: a number without a name.
	{"216.160.83.0/24", 209, ""},
}

func main() {
	dir := flag.String("o", ".", "output directory")
	flag.Parse()
	for _, s := range []struct {
		file, dbType string
		record       func(network) mmdbtype.Map
	}{
		{"GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN", maxmind},
		{"ipinfo-lite-test.mmdb", "ipinfo lite.mmdb", ipinfo},
	} {
		if err := write(filepath.Join(*dir, s.file), s.dbType, s.record); err != nil {
			log.Fatal(err)
		}
	}
}

func maxmind(n network) mmdbtype.Map {
	m := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n.asn)}
	if n.org != "" {
		m["autonomous_system_organization"] = mmdbtype.String(n.org)
	}
	return m
}

func ipinfo(n network) mmdbtype.Map {
	m := mmdbtype.Map{"asn": mmdbtype.String(fmt.Sprintf("AS%d", n.asn)), "country_code": mmdbtype.String("US")}
	if n.org != "" {
		m["as_name"] = mmdbtype.String(n.org)
	}
	return m
}

func write(path, dbType string, record func(network) mmdbtype.Map) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		Description:  map[string]string{"en": "newterms test ASN database"},
		RecordSize:   24,
		BuildEpoch:   1767225600, // 2026-01-01: fixed, so that output is reproducible
	})
	if err != nil {
		return err
	}
	for _, n := range networks {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			return err
		}
		if err := tree.Insert(ipnet, record(n)); err != nil {
			return fmt.Errorf("%s: %w", n.cidr, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package asn

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/newterms/newterms/internal/logx"
)

const (
	maxmindDB = "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
	ipinfoDB  = "../../testdata/asn/ipinfo-lite-test.mmdb"
)

// The committed databases are exactly what their generator writes.
func TestGeneratedDatabases(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	dir := t.TempDir()
	out, err := exec.Command("go", "run", "../../testdata/mmdbgen", "-o", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("generator: %v\n%s", err, out)
	}
	for _, committed := range []string{maxmindDB, ipinfoDB} {
		want, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.Base(committed)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator's output: run go generate ./internal/asn", committed)
		}
	}
}

func open(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLookup(t *testing.T) {
	cases := []struct {
		addr  string
		found bool
		num   uint32
		org   string
	}{
		{"1.1.1.1", true, 13335, "Cloudflare, Inc."},
		{"2606:4700::1111", true, 13335, "Cloudflare, Inc."},
		{"::ffff:8.8.8.8", true, 15169, "Google LLC"},
		{"8.8.4.4", false, 0, ""}, // outside the listed /24
		{"3.120.1.1", true, 16509, "Amazon.com, Inc."},
		{"2600:1f14::1", true, 16509, "Amazon.com, Inc."},
		{"2601:1c0::9", true, 7922, "Comcast Cable Communications, LLC"},
		{"216.160.83.56", true, 209, ""}, // a number without a name
		{"10.1.2.3", false, 0, ""},
		{"192.168.10.10", false, 0, ""},
		{"127.0.0.1", false, 0, ""},
		{"198.51.100.7", false, 0, ""},
		{"2001:db8::1", false, 0, ""},
		{"fe80::1", false, 0, ""},
		{"::", false, 0, ""},
		{"2606:4700::1111%eth0", true, 13335, "Cloudflare, Inc."}, // the zone is not part of the network
	}
	for _, path := range []string{maxmindDB, ipinfoDB} {
		db := open(t, path)
		for _, c := range cases {
			for round := range 2 { // the second answer comes from the cache
				info, found := db.Lookup(netip.MustParseAddr(c.addr))
				if found != c.found || info.Number != c.num || info.Org != c.org {
					t.Errorf("%s %q (round %d) = %+v %v, want %d %q %v",
						filepath.Base(path), c.addr, round, info, found, c.num, c.org, c.found)
				}
			}
		}
	}
}

func TestMeta(t *testing.T) {
	cases := []struct {
		path   string
		schema Schema
		dbType string
	}{
		{maxmindDB, MaxMind, "GeoLite2-ASN"},
		{ipinfoDB, IPinfo, "ipinfo lite.mmdb"},
	}
	for _, c := range cases {
		m := open(t, c.path).Meta()
		if m.Schema != c.schema || m.DatabaseType != c.dbType || m.BuildTime.Year() != 2026 || m.Path != c.path {
			t.Errorf("%s: %+v", c.path, m)
		}
	}
	var none *DB
	if _, found := none.Lookup(netip.MustParseAddr("1.1.1.1")); found || none.Meta() != (Meta{}) || none.Close() != nil {
		t.Error("a nil DB must find nothing")
	}
}

// writeDB writes a database of one record per network.
func writeDB(t testing.TB, path, dbType string, records map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	replace(t, path, buf.Bytes())
}

// replace swaps the file at path the way geoipupdate does: write a new file,
// rename it over the old one.
func replace(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func mm(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(asn), "autonomous_system_organization": mmdbtype.String(org)}
}

func TestSchemas(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, dbType string
		rec          mmdbtype.Map
		want         Info
		err          string
	}{
		{"dbip", "DBIP-ASN-Lite (compat=GeoLite2-ASN)", mm(64500, "Example Net"), Info{64500, "Example Net"}, ""},
		{"isp", "GeoIP2-ISP", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64501), "autonomous_system_organization": mmdbtype.String("Ex ISP"),
			"isp": mmdbtype.String("Ex ISP"), "organization": mmdbtype.String("Ex Org")}, Info{64501, "Ex ISP"}, ""},
		{"ipinfo asn", "ipinfo asn.mmdb", mmdbtype.Map{"asn": mmdbtype.String("AS64502"), "as_name": mmdbtype.String("Ex AS")}, Info{64502, "Ex AS"}, ""},
		{"city", "GeoLite2-City", mmdbtype.Map{"city": mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1)}}, Info{},
			`unknown schema: database type "GeoLite2-City" has fields [city]`},
		{"numeric asn", "Odd", mmdbtype.Map{"asn": mmdbtype.Uint32(5)}, Info{}, `unknown schema: database type "Odd" has fields [asn]`},
		{"empty", "Empty", nil, Info{}, `database type "Empty" holds no networks`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".mmdb")
			recs := map[string]mmdbtype.Map{}
			if c.rec != nil {
				recs["1.2.3.0/24"] = c.rec
			}
			writeDB(t, path, c.dbType, recs)
			db, err := Open(path, Options{ReloadInterval: -1})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want %q naming the path", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got, found := db.Lookup(netip.MustParseAddr("1.2.3.4")); !found || got != c.want {
				t.Errorf("got %+v %v, want %+v", got, found, c.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	good, _ := os.ReadFile(maxmindDB)
	files := map[string][]byte{
		"garbage.mmdb":   []byte("this is not a database"),
		"truncated.mmdb": good[:len(good)/2],
		"empty.mmdb":     {},
	}
	// A database whose data section is damaged but whose metadata is intact.
	damaged := append([]byte(nil), good...)
	for i := 1200; i < 1400; i++ {
		damaged[i] = 0xff
	}
	files["damaged.mmdb"] = damaged
	for name, data := range files {
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	cases := []struct{ file, want string }{
		{"missing.mmdb", "no such file"},
		{"garbage.mmdb", "not a MaxMind DB"},
		{"truncated.mmdb", "not a MaxMind DB"},
		{"empty.mmdb", "not a MaxMind DB"},
		{"damaged.mmdb", "corrupt"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.file)
		_, err := Open(path, Options{ReloadInterval: -1})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want %q and the path", c.file, err, c.want)
		}
	}
}

// Replacing the file under concurrent lookups: every lookup answers from
// the old or the new database, never nothing; after Reload, the new one.
// A corrupt or wrong-schema replacement leaves the one in service.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "asn.mmdb")
	writeDB(t, path, "GeoLite2-ASN", map[string]mmdbtype.Map{"1.1.1.0/24": mm(13335, "Old")})
	db := open(t, path)
	ip := netip.MustParseAddr("1.1.1.1")

	var wg sync.WaitGroup
	stop := make(chan struct{})
	bad := make(chan Info, 1)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Vary the address so that most lookups reach the database.
				addr := netip.AddrFrom4([4]byte{1, 1, 1, byte(i)})
				if info, found := db.Lookup(addr); !found || (info.Org != "Old" && info.Org != "New") {
					select {
					case bad <- info:
					default:
					}
				}
			}
		}()
	}
	for i := range 20 {
		org := map[bool]string{true: "New", false: "Old"}[i%2 == 0]
		writeDB(t, path, "GeoLite2-ASN", map[string]mmdbtype.Map{"1.1.1.0/24": mm(13335, org)})
		if err := db.Reload(); err != nil {
			t.Fatal(err)
		}
		if info, _ := db.Lookup(ip); info.Org != org {
			t.Fatalf("after reload %d: %+v, want %s", i, info, org)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case info := <-bad:
		t.Fatalf("a lookup during reloads answered %+v", info)
	default:
	}
	if err := db.Reload(); err != ErrUnchanged {
		t.Errorf("reload of an unchanged file: %v", err)
	}

	before := db.Meta()
	if before.Reloads != 20 {
		t.Errorf("Meta().Reloads = %d after 20 reloads", before.Reloads)
	}
	for name, data := range map[string][]byte{"garbage": []byte("garbage"), "empty": nil} {
		replace(t, path, data)
		if err := db.Reload(); err == nil {
			t.Errorf("%s replacement: no error", name)
		}
		if info, found := db.Lookup(netip.MustParseAddr("1.1.1.77")); !found || info.Org != "Old" || db.Meta() != before {
			t.Errorf("%s replacement: the old database left service: %+v", name, info)
		}
	}
	writeDB(t, path, "GeoLite2-City", map[string]mmdbtype.Map{"1.1.1.0/24": {"city": mmdbtype.String("x")}})
	if err := db.Reload(); err == nil || !strings.Contains(err.Error(), "unknown schema") {
		t.Errorf("wrong-schema replacement: %v", err)
	}
	if info, found := db.Lookup(netip.MustParseAddr("1.1.1.78")); !found || info.Org != "Old" {
		t.Errorf("wrong-schema replacement: the old database left service: %+v", info)
	}
}

// The background check picks up a replaced file by itself. A bad
// replacement is logged once, at error level, however many checks see it,
// and a line says when a good file is back.
func TestReloadInBackground(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "asn.mmdb")
	writeDB(t, path, "GeoLite2-ASN", map[string]mmdbtype.Map{"1.1.1.0/24": mm(1, "Old")})
	logs := make(chan string, 64)
	db, err := Open(path, Options{ReloadInterval: 5 * time.Millisecond, Log: func(l logx.Level, f string, a ...any) {
		logs <- l.String() + ": " + fmt.Sprintf(f, a...)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	next := func() string {
		select {
		case msg := <-logs:
			return msg
		case <-time.After(10 * time.Second):
			t.Fatal("no log line within 10s")
		}
		return ""
	}
	if err := os.WriteFile(path+".tmp", []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Rename(path+".tmp", path)
	if msg := next(); !strings.HasPrefix(msg, "error: asn database reload failed") {
		t.Fatalf("bad replacement logged as %q", msg)
	}
	for start := db.checks.Load(); db.checks.Load() < start+5; {
		runtime.Gosched()
	}
	writeDB(t, path, "GeoLite2-ASN", map[string]mmdbtype.Map{"1.1.1.0/24": mm(2, "New")})
	if msg := next(); !strings.HasPrefix(msg, "info: asn database "+path+": the replacement is good again") {
		t.Fatalf("after five more checks of the bad file: %q", msg)
	}
	if msg := next(); !strings.Contains(msg, "reloaded") {
		t.Fatalf("log: %s", msg)
	}
	if info, _ := db.Lookup(netip.MustParseAddr("1.1.1.1")); info.Number != 2 {
		t.Errorf("after background reload: %+v", info)
	}
}

// A replaced reader stays open while a lookup holds it.
func TestOldReaderClosedAfterLookups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "asn.mmdb")
	writeDB(t, path, "GeoLite2-ASN", map[string]mmdbtype.Map{"1.1.1.0/24": mm(1, "Old")})
	db := open(t, path)
	h := db.acquire() // a lookup in flight
	writeDB(t, path, "GeoLite2-ASN", map[string]mmdbtype.Map{"1.1.1.0/24": mm(2, "New")})
	if err := db.Reload(); err != nil {
		t.Fatal(err)
	}
	if info, found, err := h.lookup(netip.MustParseAddr("1.1.1.1")); err != nil || !found || info.Number != 1 {
		t.Fatalf("in-flight lookup on the old reader: %+v %v %v", info, found, err)
	}
	h.release()
	if _, _, err := h.lookup(netip.MustParseAddr("1.1.1.1")); err == nil {
		t.Error("old reader still open after its last lookup")
	}
	db.Close()
	if _, found := db.Lookup(netip.MustParseAddr("1.1.1.1")); found {
		t.Error("lookup after Close")
	}
}

// Any address: a lookup that finds something finds a number, and the
// cached answer is the database's.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"1.1.1.1", "::ffff:8.8.8.8", "2606:4700::1", "3.0.0.9", "10.0.0.1", "1.2.3.4%x", "::ffff:0:0"} {
		f.Add(s)
	}
	db, err := Open(maxmindDB, Options{ReloadInterval: -1, CacheEntries: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		info, found := db.Lookup(ip)
		if found && info.Number == 0 {
			t.Fatalf("%q: found %+v", addr, info)
		}
		h := db.acquire()
		defer h.release()
		want, wantFound, err := h.lookup(ip.Unmap().WithZone(""))
		if err != nil || wantFound != found || want != info {
			t.Fatalf("%q: %+v %v, the database says %+v %v %v", addr, info, found, want, wantFound, err)
		}
	})
}

// BenchmarkLookup: an address in the cache, and one that reaches the
// database (the cache holds fewer entries than addresses cycled).
func BenchmarkLookup(b *testing.B) {
	ips := make([]netip.Addr, 4096)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{3, byte(i >> 8), byte(i), 9}) // in 3.0.0.0/9
	}
	b.Run("cached", func(b *testing.B) {
		db := open(b, maxmindDB)
		db.Lookup(ips[0])
		b.ReportAllocs()
		for b.Loop() {
			db.Lookup(ips[0])
		}
	})
	for name, path := range map[string]string{"uncached": maxmindDB, "uncached-ipinfo": ipinfoDB} {
		b.Run(name, func(b *testing.B) {
			db, err := Open(path, Options{ReloadInterval: -1, CacheEntries: 64})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				db.Lookup(ips[i%len(ips)])
				i++
			}
		})
	}
}

// BenchmarkLookupLarge looks up in a database of realistic depth: 200,000
// random /24 and /48 networks (a GeoLite2-ASN file holds some 500,000).
func BenchmarkLookupLarge(b *testing.B) {
	path := filepath.Join(b.TempDir(), "large.mmdb")
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", RecordSize: 28})
	if err != nil {
		b.Fatal(err)
	}
	rng := uint64(1)
	next := func() uint64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
	var ips []netip.Addr
	for i := range 200_000 {
		r := next()
		var n *net.IPNet
		if i%4 == 0 {
			ip := make(net.IP, 16)
			ip[0], ip[1] = 0x2a, byte(r)
			for j := 2; j < 6; j++ {
				ip[j] = byte(r >> (8 * j))
			}
			n = &net.IPNet{IP: ip, Mask: net.CIDRMask(48, 128)}
		} else {
			ip := net.IPv4(byte(1+r%222), byte(r>>8), byte(r>>16), 0).To4()
			n = &net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}
		}
		if err := tree.Insert(n, mm(uint32(r%65000)+1, "Org "+string(rune('A'+r%26)))); err != nil {
			continue // reserved space
		}
		if len(ips) < 4096 {
			a, _ := netip.AddrFromSlice(n.IP)
			ips = append(ips, a.Unmap())
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(path, buf.Bytes(), 0o644)
	db, err := Open(path, Options{ReloadInterval: -1, CacheEntries: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, found := db.Lookup(ips[i%len(ips)]); !found {
			b.Fatal("not found")
		}
		i++
	}
}

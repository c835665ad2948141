// Package prefilter decides, from a record's raw bytes and before any
// parsing, that no rule can match it. Most CloudTrail records match no
// rule; reading their bytes once is far cheaper than parsing them.
//
// Every rule yields literals, one of which a record must contain for the
// rule to match (kql.Query.Literals): most often the values its query
// requires of event.action. All rules' literals form one matcher. A record
// passes when it holds any of them; a rule from which no literal can be
// derived turns the prefilter off, and the report says which.
//
// Most literals begin a JSON string; a few (from *wildcards*) may sit
// anywhere. On amd64 with AVX2 a vector scan (Teddy: scan_amd64.s,
// teddy.go) finds, 64 bytes a round, the places that could hold one: a
// quote whose next three bytes fit one of eight buckets of the literals'
// first bytes, or four bytes that fit a literal that may sit anywhere; it
// notes backslashes on the way. Elsewhere a loop visits every quote, and
// bytes.Index looks for each literal that may sit anywhere. Each place is
// then checked in one hash table, four bytes a probe (trie.go), and each
// literal found marks the clauses it meets in a bit set, so that only its
// own rules are checked again. The scan's work per byte does not depend on
// the literals; the places it lets through grow only as its buckets fill.
//
// Measured (BenchmarkMayMatchPack, one core, on the 2-core development
// machine under a load of 9-15, in thread CPU time, which that load
// inflates least): with Elastic's CloudTrail pack (47 rules, 137 literals),
// a 1 KB record that no rule matches costs 0.33 µs, against 1.28 µs with
// the structure this one replaced (a table of two-byte prefixes with a
// list per prefix, bytes.Index for each literal that may sit anywhere, all
// rules checked again at each literal found); a record of the synthetic
// stream 0.2-0.3 µs against 1.3 µs. The seed rules' 1.5 KB record costs
// the same as before (0.18 µs there). Kept after measuring: fingerprints of
// five or six bytes halve the places let through (18 in that record, 4 of
// them literals) but cost a third more a byte: no faster; looking the
// quote up like the other bytes instead of comparing it: 10% slower on
// the seed rules. Not a library: github.com/coregx/ahocorasick v0.3.1,
// given the same literals, took 7.5-10 µs to list those in that record
// (the rules need which), against 1.2 µs for MayMatch in the same run
// (wall clock); its IsMatch, which stops at the first (60 bytes in) and
// says only that there is one, 0.7 µs. The Aho-Corasick packages measured
// before on conf/rules' literals (coregx, cloudflare, petar-dambovaliev)
// took 0.69-8.1 µs on a 1.5 KB record.
//
// Exactness: literals are only taken from fields whose values are copied
// verbatim from the record, and never numbers, booleans, or text JSON
// escapes. Records whose bytes could hide a literal always pass:
//
//   - text that is not JSON: base64 or gzip, which the decoder opens;
//   - JSON in which a key the decoder opens as text of its own (data,
//     message, Message, CloudTrailEvent: the Lambda awslogs.data, Firehose
//     records[].data, CloudWatch Logs logEvents[].message, SNS Message,
//     lookup-events' CloudTrailEvent) holds a string that could be base64,
//     of JSON or of gzip. The scan stops at these keys as at literals, so
//     a record without them costs nothing more;
//   - JSON holding \u or \/ after any backslashes, which could spell
//     anything at some depth of JSON in a string.
//
// JSON held in a string (a CloudWatch Logs message, an SNS Message, a
// CloudTrailEvent) needs no rule of its own: its quotes come escaped, \",
// so each of its values still follows a quote, and the escapes that could
// hide a literal are the ones above. Gzip cannot sit in a JSON string
// unencoded (its bytes are not UTF-8), so it is always under base64.
package prefilter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/kql"
	"github.com/newterms/newterms/internal/rules"
)

// Filter is immutable and safe for concurrent use.
type Filter struct {
	teddy teddy
	trie  trie
	lits  []literal
	subs  []int32 // the literals that may sit anywhere, for the quote loop
	// first2: the first two bytes of the literals that begin a string, a
	// bit each, so that the quote loop passes over most quotes without a
	// probe (a probe at each quote made it 12% slower with the seed rules).
	first2 [1 << 16 / 64]uint64
	// rules: each rule's clauses, numbered consecutively, as bits of the
	// set a scan fills; a record passes when every clause of some rule has
	// a literal the record holds.
	rules [][]clauseBits
}

type literal struct {
	text     string
	anchored bool         // it begins a JSON string
	env      bool         // an envelope key, not a rule's literal
	meets    []clauseBits // the clauses it meets
	rules    []int32      // the rules of those clauses
}

// clauseBits are clauses, as the bits m of word w of the set a scan fills.
type clauseBits struct {
	w int32
	m uint64
}

// addClause puts clause c into a list of clauseBits kept in word order.
func addClause(cs []clauseBits, c int) []clauseBits {
	w, m := int32(c/64), uint64(1)<<(c%64)
	if n := len(cs); n > 0 && cs[n-1].w == w {
		cs[n-1].m |= m
		return cs
	}
	return append(cs, clauseBits{w, m})
}

// envelopeKeys are the keys whose string values the decoder opens as text
// of their own (cloudtrail's nestedText): CloudWatch Logs logEvents[].message,
// the Lambda awslogs.data and Firehose records[].data, lookup-events'
// CloudTrailEvent, SNS Message. A value there that is not JSON text may be
// base64, of JSON or gzip, that no scan of the raw bytes can see into.
var envelopeKeys = []string{"data", "message", "Message", "CloudTrailEvent"}

// maxClauses bounds the set a scan fills on the stack.
const maxClauses = 1024

// Report says what the prefilter was built from.
type Report struct {
	Enabled  bool
	Literals int
	// Unfiltered names the rules no literal could be derived from.
	Unfiltered []string
}

// Build derives the filter from a rule set; nil when a rule defeats it.
func Build(set *rules.Set) (*Filter, Report) {
	f := &Filter{}
	ids := map[kql.Literal]int{}
	var rep Report
	clauses := 0
	for _, r := range set.Rules() {
		cs, ok := r.Compiled().Literals(placement)
		if !ok {
			rep.Unfiltered = append(rep.Unfiltered, fmt.Sprintf("%q: no literal in its query (negations, ranges or computed fields only)", r.Name))
			continue
		}
		var rc [][]int
		for _, c := range cs {
			var ci []int
			for _, l := range c {
				if !l.AtStart && len(l.Text) < 3 {
					continue
				}
				id, seen := ids[l]
				if !seen {
					id = len(f.lits)
					ids[l] = id
					f.lits = append(f.lits, literal{text: l.Text, anchored: l.AtStart})
				}
				ci = append(ci, id)
			}
			if len(ci) == len(c) {
				rc = append(rc, ci)
			}
		}
		if len(rc) == 0 {
			rep.Unfiltered = append(rep.Unfiltered, fmt.Sprintf("%q: its literals are too short to look for", r.Name))
			continue
		}
		rule := int32(len(f.rules))
		var all []clauseBits
		for _, c := range rc {
			all = addClause(all, clauses)
			for _, id := range c {
				l := &f.lits[id]
				l.meets = addClause(l.meets, clauses)
				if n := len(l.rules); n == 0 || l.rules[n-1] != rule {
					l.rules = append(l.rules, rule)
				}
			}
			clauses++
		}
		f.rules = append(f.rules, all)
	}
	rep.Literals = len(f.lits)
	if len(rep.Unfiltered) > 0 || len(set.Rules()) == 0 || clauses > maxClauses {
		if clauses > maxClauses {
			rep.Unfiltered = append(rep.Unfiltered, fmt.Sprintf("%d clauses, more than the %d a scan holds", clauses, maxClauses))
		}
		return nil, rep
	}
	for _, k := range envelopeKeys {
		f.lits = append(f.lits, literal{text: k, anchored: true, env: true})
	}
	var tb trieBuilder
	var prints []fingerprint
	for i, l := range f.lits {
		if !l.env && len(l.meets) == 0 {
			continue // only in clauses too weak to keep
		}
		root := anchored
		if l.anchored {
			k := uint16(l.text[0]) | uint16(l.text[1])<<8
			f.first2[k/64] |= 1 << (k % 64)
		} else {
			root = anywhere
			f.subs = append(f.subs, int32(i))
		}
		tb.add(root, l.text, int32(i))
		prints = append(prints, fingerprintOf(l.text, l.anchored))
	}
	f.trie = tb.build()
	f.teddy.fill(prints)
	rep.Enabled = true
	return f, rep
}

func placement(field string) kql.Placement {
	switch cloudtrail.PlacementOf(field) {
	case cloudtrail.Whole:
		return kql.Whole
	case cloudtrail.Substring:
		return kql.Substring
	}
	return kql.None
}

// MayMatch reports whether a rule could match the record; false means it
// certainly cannot. A nil Filter passes everything.
func (f *Filter) MayMatch(raw []byte) bool {
	if f == nil {
		return true
	}
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	if i == len(raw) || (raw[i] != '{' && raw[i] != '[') {
		return true // not JSON text: an encoded envelope
	}
	s := scan{f: f}
	if !haveSIMD {
		return s.quotes(raw, i)
	}
	next := i
	if len(raw)-i >= roundBytes {
		var hit bool
		if hit, next = s.rounds(raw[i:], i, raw); hit {
			return true
		}
	}
	if next < len(raw) {
		// The last bytes, fewer than a round needs, in a copy padded with
		// zeros, which no fingerprint lets through.
		var tail [tailBuf]byte
		copy(tail[:], raw[next:])
		if hit, _ := s.rounds(tail[:], next, raw); hit {
			return true
		}
	}
	// No rule is met, unless escapes hide a literal: then parse.
	return s.esc && hidden(raw)
}

// maskRounds is how many rounds of 64 bytes a call of the vector scan
// takes at most; firstRounds, how many the first call takes.
const (
	maskRounds  = 16
	firstRounds = 4
)

// roundBytes is what a round reads: its 64 places and the rest of the
// last one's fingerprint.
const roundBytes = 64 + teddyBytes - 1

// tailBuf holds what the vector scan leaves (under roundBytes) in two
// rounds.
const tailBuf = 64 + roundBytes

// scan is one record's: the clauses met so far, and the vector scan's masks.
type scan struct {
	f     *Filter
	met   [maxClauses / 64]uint64
	masks [maskRounds]uint64
	esc   bool // a backslash seen
}

// rounds runs the vector scan over b, whose byte j is raw[base+j], and
// looks at each candidate in raw. It reports a hit, or where it stopped.
// The first call takes firstRounds, each next one four times as many (up
// to maskRounds): a record that matches early is not read to its end (the
// seed rules' match costs as before), and one that does not costs few
// calls (three for 1 KB; two rounds, doubling, made it 5-10% slower).
func (s *scan) rounds(b []byte, base int, raw []byte) (bool, int) {
	for o, lim := 0, firstRounds; ; lim = min(4*lim, maskRounds) {
		n, esc := scanAVX2(&s.f.teddy, b[o:], s.masks[:lim])
		s.esc = s.esc || esc
		for r, m := range s.masks[:n] {
			for ; m != 0; m &= m - 1 {
				p := base + o + 64*r + bits.TrailingZeros64(m)
				if p >= len(raw) {
					return false, len(raw)
				}
				if s.at(raw, p) {
					return true, 0
				}
			}
		}
		o += 64 * n
		if n < lim {
			return false, base + o
		}
	}
}

// at looks for the literals that begin at raw[p], or after it when it is
// a quote: literals never hold one.
func (s *scan) at(raw []byte, p int) bool {
	if raw[p] == '"' {
		return s.walk(anchored, raw[p+1:])
	}
	return s.walk(anywhere, raw[p:])
}

// quotes is the scan without vectors: every quote, and each literal that
// may sit anywhere searched for on its own.
func (s *scan) quotes(raw []byte, i int) bool {
	for _, li := range s.f.subs {
		l := &s.f.lits[li]
		if bytes.Contains(raw, []byte(l.text)) && s.found(l) {
			return true
		}
	}
	for b := raw[i:]; ; {
		q := bytes.IndexByte(b, '"')
		if q < 0 {
			break
		}
		b = b[q+1:]
		if len(b) < 2 {
			break
		}
		if k := uint16(b[0]) | uint16(b[1])<<8; s.f.first2[k/64]&(1<<(k%64)) != 0 && s.walk(anchored, b) {
			return true
		}
	}
	return hidden(raw)
}

// walk follows the trie from root along b, and reports whether a literal
// that b begins with meets a rule or opens an encoded envelope.
func (s *scan) walk(root int32, b []byte) bool {
	t := &s.f.trie
	n, info, o := root, t.root[root], 0
	for {
		if info&0xe != 0 {
			for r := 1; r <= 3 && o+r <= len(b); r++ {
				if info&(1<<r) == 0 {
					continue
				}
				if leaf := t.next(n, r, chunk(b[o:o+r])); leaf != nil && s.outs(leaf.info, b) {
					return true
				}
			}
		}
		if o+4 > len(b) {
			return false
		}
		e := t.next(n, 4, binary.LittleEndian.Uint32(b[o:]))
		if e == nil {
			return false
		}
		n, info, o = e.node, e.info, o+4
		if info&one != 0 {
			return s.outs(info, b)
		}
		if info&0xf0 != 0 && s.outs(info, b) {
			return true
		}
	}
}

// outs takes the literals that end at a node (its info), each of which b
// begins with, or the one it leads to if b begins with it.
func (s *scan) outs(info uint32, b []byte) bool {
	if info&one != 0 {
		li := s.f.trie.outs[info>>8]
		return bytes.HasPrefix(b, []byte(s.f.lits[li].text)) && s.take(li, b)
	}
	for _, li := range s.f.trie.outs[info>>8 : info>>8+info>>4&0xf] {
		if s.take(li, b) {
			return true
		}
	}
	return false
}

// take notes literal li, which b begins with.
func (s *scan) take(li int32, b []byte) bool {
	l := &s.f.lits[li]
	if l.env {
		return encodedValue(b[len(l.text):])
	}
	return s.found(l)
}

// found marks the clauses a literal meets, and reports whether one of its
// rules now has every clause met: a record that matches stops the scan.
func (s *scan) found(l *literal) bool {
	fresh := false
	for _, c := range l.meets {
		if s.met[c.w]&c.m != c.m {
			s.met[c.w] |= c.m
			fresh = true
		}
	}
	if !fresh {
		return false
	}
next:
	for _, r := range l.rules {
		for _, c := range s.f.rules[r] {
			if s.met[c.w]&c.m != c.m {
				continue next
			}
		}
		return true
	}
	return false
}

// encodedValue reports whether b, which follows a quote and an envelope
// key's name, could be the rest of that key and a string value that the
// decoder takes for base64. False when the name goes on ("database"), is
// a value ("bucketName":"data"), holds a non-string or JSON text (searched
// where it is, like the record), or text that is not base64
// ("HIDDEN_DUE_TO_SECURITY_REASONS"). Inside JSON that is itself in a
// string, quotes and whitespace come escaped; an escape it cannot place
// answers true, and \u and \/, which could spell anything, make hidden
// pass the record anyway.
func encodedValue(b []byte) bool {
	i := 0
	for i < len(b) && b[i] == '\\' {
		i++
	}
	if i == len(b) || b[i] != '"' {
		return false
	}
	colon := false
	for i++; i < len(b); i++ {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
		case ':':
			if colon {
				return false
			}
			colon = true
		case '\\':
			for i < len(b) && b[i] == '\\' {
				i++
			}
			switch {
			case i == len(b):
				return true
			case b[i] == '"':
				return colon && base64Text(b[i+1:])
			case b[i] != 'n' && b[i] != 't' && b[i] != 'r':
				return true
			}
		case '"':
			return colon && base64Text(b[i+1:])
		default:
			return false
		}
	}
	return false
}

// base64Text reports whether a string's text, b on, could be base64 once
// the decoder has trimmed its spaces: base64 characters up to the closing
// quote, or an escape. Bytes past ASCII may be Unicode spaces.
func base64Text(b []byte) bool {
	seen := false
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
			seen = true
		case c == '"':
			return seen
		case c == '\\':
			return true
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f', c >= 0x80:
		default:
			return false
		}
	}
	return true
}

// hidden reports escapes that could spell a literal's characters: \u or
// \/ after any number of backslashes, since in JSON held in a string
// (an SNS Message, a CloudTrailEvent) the inner text's \u reads \\u.
func hidden(raw []byte) bool {
	for b := raw; ; {
		i := bytes.IndexByte(b, '\\')
		if i < 0 || i+1 >= len(b) {
			return false
		}
		if c := b[i+1]; c == 'u' || c == '/' {
			return true
		}
		b = b[i+1:]
	}
}

package prefilter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/kql"
	"github.com/newterms/newterms/internal/rules"
	"github.com/newterms/newterms/internal/synth"
)

// naive is what the prefilter must answer, by the plainest search: each
// rule's literals looked for one by one with bytes.Contains, each envelope
// key at each of its places. Its rules are derived as Build derives them;
// what it checks is the matcher (the vector scan, the trie, the clause
// sets), not the derivation.
type naive struct {
	rules [][][]kql.Literal // rule, clause, literal
}

func newNaive(s *rules.Set) naive {
	var n naive
	for _, r := range s.Rules() {
		cs, _ := r.Compiled().Literals(placement)
		var kept [][]kql.Literal
		for _, c := range cs {
			if !slices.ContainsFunc(c, func(l kql.Literal) bool { return !l.AtStart && len(l.Text) < 3 }) {
				kept = append(kept, c)
			}
		}
		n.rules = append(n.rules, kept)
	}
	return n
}

func (n naive) mayMatch(raw []byte) bool {
	b := bytes.TrimLeft(raw, " \t\n\r")
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return true
	}
	if bytes.Contains(raw, []byte(`\u`)) || bytes.Contains(raw, []byte(`\/`)) {
		return true
	}
	for _, k := range envelopeKeys {
		key := []byte(`"` + k)
		for i := 0; ; {
			j := bytes.Index(raw[i:], key)
			if j < 0 {
				break
			}
			i += j + len(key)
			if encodedValue(raw[i:]) {
				return true
			}
		}
	}
	holds := func(l kql.Literal) bool {
		if l.AtStart {
			return bytes.Contains(raw, []byte(`"`+l.Text))
		}
		return bytes.Contains(raw, []byte(l.Text))
	}
	for _, r := range n.rules {
		met := true
		for _, c := range r {
			met = met && slices.ContainsFunc(c, holds)
		}
		if met {
			return true
		}
	}
	return false
}

// agree checks the filter, with the vector scan and with the quote loop,
// against the naive search: the same answer (a superset would do; the
// filter is meant to be exact).
func agree(t *testing.T, f *Filter, n naive, raw []byte, what string) {
	t.Helper()
	want := n.mayMatch(raw)
	if got := f.MayMatch(raw); got != want {
		t.Fatalf("%s: MayMatch %v, the naive search %v:\n%q", what, got, want, raw)
	}
	if got := scalar(f, raw); got != want {
		t.Fatalf("%s: the quote loop %v, the naive search %v:\n%q", what, got, want, raw)
	}
}

// records makes random records out of pieces of the literals: whole, cut
// short, with a byte changed, with and without the quote that opens them,
// at every offset of the vector scan's rounds and of the tail it leaves;
// and the envelope keys with base64 or JSON values, escapes and noise.
func records(rng *rand.Rand, lits []string, n int) [][]byte {
	noise := []string{`"`, `":"`, `",`, `,`, `:`, ` `, `\`, `\"`, `\\`, `\u0041`, `\/`, `x`, `yy`, `{`, `}`, `[`, `]`, "\n", "\x00", "\xff",
		`"data":"eyJ9"`, `"data":"{}"`, `"message":" eyJldmVudE5hbWUiOiJ4In0="`, `"Message":5`, `"CloudTrailEvent":"H4sI"`, `"dat`, `"datas":"eyJ9"`}
	var out [][]byte
	for range n {
		var b strings.Builder
		switch rng.IntN(20) {
		case 0:
			b.WriteString("  \n")
		case 1: // not JSON text
		default:
			b.WriteString(`{`)
		}
		b.WriteString(strings.Repeat("p", rng.IntN(140)))
		for range rng.IntN(12) {
			switch rng.IntN(4) {
			case 0:
				b.WriteString(noise[rng.IntN(len(noise))])
			case 1:
				b.WriteString(strings.Repeat("z", rng.IntN(70)))
			default:
				l := lits[rng.IntN(len(lits))]
				if rng.IntN(2) == 0 {
					b.WriteString(`"`)
				}
				switch rng.IntN(4) {
				case 0:
					l = l[:rng.IntN(len(l)+1)]
				case 1:
					i := rng.IntN(len(l))
					l = l[:i] + string(rune('!'+rng.IntN(90))) + l[i+1:]
				}
				b.WriteString(l)
				if rng.IntN(2) == 0 {
					b.WriteString(`"`)
				}
			}
		}
		if rng.IntN(3) > 0 {
			b.WriteString(`}`)
		}
		out = append(out, []byte(b.String()))
	}
	return out
}

// TestAgainstNaive: random rules whose literals share prefixes, end on and
// off the trie's four-byte steps, begin strings or sit anywhere, and may be
// envelope keys; random records made of them.
func TestAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	words := []string{"As", "Assume", "AssumeRole", "AssumeRoleWith", "Ro", "Role", "ab", "abc", "abcd", "abcde", "data", "message", "Message",
		"List", "ListBucket", "ListBuckets", "Get", "GetObject", "kms.amazonaws.com", "s3.amazonaws.com", "x7", "ZZZZZZZZZ"}
	word := func() string {
		w := words[rng.IntN(len(words))]
		if rng.IntN(3) == 0 {
			w += words[rng.IntN(len(words))]
		}
		return w
	}
	checked, passed := 0, 0
	for round := range 300 {
		var qs, lits []string
		for range 1 + rng.IntN(6) {
			var cs []string
			for range 1 + rng.IntN(3) {
				var alts []string
				for range 1 + rng.IntN(3) {
					w := word()
					lits = append(lits, w)
					switch rng.IntN(3) {
					case 0:
						alts = append(alts, `event.action: "`+w+`"`)
					case 1:
						alts = append(alts, `event.provider: `+w+`*`)
					default:
						if len(w) >= 3 {
							alts = append(alts, `user_agent.original: *`+w+`*`)
						} else {
							alts = append(alts, `event.action: "`+w+`"`)
						}
					}
				}
				cs = append(cs, "("+strings.Join(alts, " or ")+")")
			}
			qs = append(qs, strings.Join(cs, " and "))
		}
		s := set(t, qs...)
		f, rep := Build(s)
		if f == nil {
			t.Fatalf("round %d: no filter for %q: %v", round, qs, rep.Unfiltered)
		}
		n := newNaive(s)
		for i, raw := range records(rng, append(lits, envelopeKeys...), 200) {
			agree(t, f, n, raw, fmt.Sprintf("round %d (%q) record %d", round, qs, i))
			checked++
			if f.MayMatch(raw) {
				passed++
			}
		}
	}
	if passed == 0 || passed == checked {
		t.Errorf("%d of %d records passed: the property shows nothing", passed, checked)
	}
	t.Logf("%d records, %d passed", checked, passed)
}

// TestAgainstNaivePack: Elastic's whole pack, on random records made of its
// literals, on the synthetic stream, and on Elastic's and AWS's sample
// records, alone and each in an envelope; none of those its rules match is
// dropped.
func TestAgainstNaivePack(t *testing.T) {
	s := packSet(t)
	f, rep := Build(s)
	if f == nil {
		t.Fatalf("no filter for the pack: %v", rep.Unfiltered)
	}
	n := newNaive(s)
	var lits []string
	for _, r := range n.rules {
		for _, c := range r {
			for _, l := range c {
				lits = append(lits, l.Text)
			}
		}
	}
	rng := rand.New(rand.NewPCG(13, 14))
	passed := map[bool]int{}
	for i, raw := range records(rng, append(lits, envelopeKeys...), 20000) {
		agree(t, f, n, raw, fmt.Sprint("record ", i))
		passed[n.mayMatch(raw)]++
	}
	var real [][]byte
	for _, ev := range synth.Stream(synth.Options{Seed: 4, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 2, Events: 1000}) {
		real = append(real, ev.JSON)
	}
	for _, dir := range []string{"elastic-cloudtrail", "elastic-cloudtrail-2026/*", "elastic-cloudtrail-2026/older/*", "aws-samples"} {
		files, _ := filepath.Glob(filepath.Join(filepath.Dir(elasticPack), dir, "*"))
		for _, file := range files {
			if st, err := os.Stat(file); err == nil && st.IsDir() {
				continue
			}
			data, err := os.ReadFile(file)
			switch {
			case err != nil:
				t.Fatal(err)
			case strings.HasSuffix(file, ".log"): // a record a line
				real = append(real, bytes.Split(data, []byte("\n"))...)
			case strings.HasSuffix(file, ".json") && !strings.HasSuffix(file, "-expected.json"):
				real = append(real, data)
			}
		}
	}
	matched := 0
	for i, raw := range real {
		env := synth.Envelopes[i%len(synth.Envelopes)]
		for _, in := range [][]byte{raw, env.Wrap(raw)} {
			agree(t, f, n, in, fmt.Sprintf("record %d (%s)", i, env.Name))
			// And the pack's rules never match what the filter drops.
			if matches(s, in) {
				matched++
				if !f.MayMatch(in) {
					t.Fatalf("record %d (%s): dropped, and a rule matches it:\n%.2000s", i, env.Name, in)
				}
			}
		}
		passed[n.mayMatch(raw)]++
	}
	if passed[true] == 0 || passed[false] == 0 || matched == 0 {
		t.Errorf("passed %d, dropped %d, matched %d: the property shows nothing", passed[true], passed[false], matched)
	}
	t.Logf("%d records (%d of them samples, %d matched in or out of an envelope), %d passed", passed[true]+passed[false], len(real), matched, passed[true])
}

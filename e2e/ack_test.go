package e2e

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

const (
	ackKills      = 10
	ackPerMessage = 1
)

// recordN finds a record's number; the closing brace keeps a line torn by
// a kill from counting as another number.
var recordN = regexp.MustCompile(`"n":(\d+)}`)

// What in_forward's ack is worth, without the plugin: a client sends
// Forward-mode messages with chunk ids to the forward input as configured
// in conf/, each after the ack of the one before, while Fluent Bit is
// SIGKILLed at seeded times and restarted on its storage; every record
// acknowledged is delivered in the end. The plugin deletes an alert from
// its outbox on that ack, so this is the guarantee its alerts rest on
// (TestKill sees it only through the plugin, whose resends after a kill
// can hide a lost ack).
func TestAckDurable(t *testing.T) {
	eachBinary(t, false, func(t *testing.T, bin string) {
		p := newPipeline(t, bin, options{receiver: true})
		rng := rand.New(rand.NewPCG(3, ackKills))
		acked := map[int]bool{}
		next := 0
		var fb *fluentBit
		for run := 0; run <= ackKills; run++ {
			fb = p.start()
			waitFor(t, "the forward socket", alertLimit, []*fluentBit{fb}, func() bool { return exists(p.sock()) && dialable(p.sock()) })
			if run == ackKills {
				break
			}
			// Not synchronisation: the seeded point of the kill, while
			// messages and acks go back and forth.
			kill := time.AfterFunc(time.Duration(200+rng.IntN(800))*time.Millisecond, fb.kill)
			next = sendUntilError(p.sock(), next, acked)
			kill.Stop()
			fb.kill()
		}
		want := make([]string, 0, len(acked))
		for n := range acked {
			want = append(want, strconv.Itoa(n))
		}
		waitFor(t, "every acknowledged record", alertLimit, []*fluentBit{fb}, func() bool { return has(p.records(), want) }, func() string {
			got, missing := p.records(), 0
			for _, n := range want {
				if got[n] == 0 {
					missing++
				}
			}
			return fmt.Sprintf("%d of %d acknowledged records missing", missing, len(want))
		})
		fb.stop()
		got := p.records()
		dups := 0
		for _, c := range got {
			dups += c - 1
		}
		t.Logf("records: sent %d, acknowledged %d, delivered %d, duplicates %d", next, len(acked), len(got), dups)
	})
}

func dialable(sock string) bool {
	c, err := net.Dial("unix", sock)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// sendUntilError sends messages of ackPerMessage records numbered from
// next on, each once the one before is acknowledged, until the connection
// fails; it returns the next number.
func sendUntilError(sock string, next int, acked map[int]bool) int {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return next
	}
	defer c.Close()
	r := msgp.NewReader(c)
	for {
		chunk := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "ack-%d", next))
		msg := msgp.AppendArrayHeader(nil, 3)
		msg = msgp.AppendString(msg, "newterms.acktest")
		msg = msgp.AppendArrayHeader(msg, ackPerMessage)
		for i := range ackPerMessage {
			msg = msgp.AppendArrayHeader(msg, 2)
			msg = msgp.AppendInt64(msg, time.Now().Unix())
			msg = msgp.AppendMapHeader(msg, 1)
			msg = msgp.AppendString(msg, "n")
			msg = msgp.AppendInt(msg, next+i)
		}
		msg = msgp.AppendMapHeader(msg, 1)
		msg = msgp.AppendString(msg, "chunk")
		msg = msgp.AppendString(msg, chunk)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(msg); err != nil {
			return next + ackPerMessage // may have gone in, unacknowledged
		}
		reply, err := r.ReadIntf()
		if m, ok := reply.(map[string]any); err != nil || !ok || m["ack"] != chunk {
			return next + ackPerMessage
		}
		for i := range ackPerMessage {
			acked[next+i] = true
		}
		next += ackPerMessage
	}
}

// records counts each record number in the file output.
func (p *pipeline) records() map[string]int {
	b, err := os.ReadFile(p.path("out/alerts.ndjson"))
	if err != nil && !os.IsNotExist(err) {
		p.t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range recordN.FindAllSubmatch(b, -1) {
		got[string(m[1])]++
	}
	return got
}

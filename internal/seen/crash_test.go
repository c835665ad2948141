package seen

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	crashTuples = 10 // tuples per batch
	crashAlerts = 3  // alerts per batch
)

var crashRule = Rule{Key: "crash:1", Name: "crash", Window: time.Hour}

// TestCrashHelper is the child of TestCrash: it applies numbered batches to
// the state in NEWTERMS_CRASH_DIR, after the last one it finds, and
// reports each commit, until it is killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv("NEWTERMS_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	s, err := Open(Options{Dir: dir, NoLearning: true, CompactInterval: -1})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	batches, _, err := crashContents(s)
	if err != nil {
		fmt.Println("read:", err)
		os.Exit(3)
	}
	for i := len(batches); ; i++ {
		b := s.Begin(false)
		for j := range crashTuples {
			if _, err := b.Check(crashRule, []string{fmt.Sprint("b", i), fmt.Sprint("k", j)}, t0.Add(time.Duration(i)*time.Second), "e"); err != nil {
				fmt.Println("check:", err)
				os.Exit(3)
			}
		}
		for j := range crashAlerts {
			b.AddAlert([]byte(fmt.Sprintf("b%d-a%d", i, j)))
		}
		if err := b.Commit(); err != nil {
			fmt.Println("commit:", err)
			os.Exit(3)
		}
		fmt.Printf("committed %d\n", i)
	}
}

// crashContents counts tuples and alerts per batch number.
func crashContents(s *State) (tuples, alerts map[int]int, err error) {
	tuples, alerts = map[int]int{}, map[int]int{}
	err = s.List(crashRule.Key, func(tu Tuple) bool {
		var n int
		fmt.Sscanf(tu.Values[0], "b%d", &n)
		tuples[n]++
		return true
	})
	if err != nil && !strings.Contains(err.Error(), "no rule") {
		return nil, nil, err
	}
	out, err := s.Outbox(0, 0)
	for _, a := range out {
		var n, j int
		fmt.Sscanf(string(a.Doc), "b%d-a%d", &n, &j)
		alerts[n]++
	}
	return tuples, alerts, err
}

// A child applying batches is killed with SIGKILL at random points, 50
// times. After each kill the state opens, every batch the child reported
// committed is there with its outbox entries, and no batch is half there.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(2026, 11))
	confirmed := -1
	for kill := range 50 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v=false")
		cmd.Env = append(os.Environ(), "NEWTERMS_CRASH_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		want := 1 + rng.IntN(4)
		for n := 0; n < want && lines.Scan(); {
			var i int
			if _, err := fmt.Sscanf(lines.Text(), "committed %d", &i); err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child: %s", lines.Text())
			}
			confirmed = i
			n++
		}
		// Sometimes kill at once, sometimes let it run on into the next
		// batches for a random while.
		if spin := rng.IntN(3); spin > 0 {
			deadline := time.Now().Add(time.Duration(rng.IntN(3000)) * time.Microsecond)
			for time.Now().Before(deadline) {
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s, err := Open(Options{Dir: dir, NoLearning: true, CompactInterval: -1})
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", kill, err)
		}
		tuples, alerts, err := crashContents(s)
		s.Close()
		if err != nil {
			t.Fatalf("kill %d: %v", kill, err)
		}
		for i := 0; i <= confirmed; i++ {
			if tuples[i] != crashTuples || alerts[i] != crashAlerts {
				t.Fatalf("kill %d: committed batch %d has %d tuples and %d alerts", kill, i, tuples[i], alerts[i])
			}
		}
		for i, n := range tuples {
			if n != crashTuples || alerts[i] != crashAlerts {
				t.Fatalf("kill %d: batch %d is half there: %d tuples, %d alerts", kill, i, n, alerts[i])
			}
			if i > confirmed+1 && tuples[i-1] == 0 {
				t.Fatalf("kill %d: batch %d without batch %d", kill, i, i-1)
			}
		}
		for i := range alerts {
			if tuples[i] != crashTuples {
				t.Fatalf("kill %d: alerts of batch %d without its state", kill, i)
			}
		}
		confirmed = len(tuples) - 1
	}
	if confirmed < 50 {
		t.Errorf("only %d batches in 50 runs", confirmed+1)
	}
}

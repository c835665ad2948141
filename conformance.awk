# Prints the conformance lines of `make test` (build/conformance.txt) and
# their total: cases run, and suites that ran none.
{ print }
match($0, /: [0-9]+ cases?/) {
	suites++
	n = substr($0, RSTART + 2, RLENGTH - 2) + 0
	cases += n
	if (n == 0) empty++
}
END {
	if (suites == 0) { print "conformance: no suite reported"; exit }
	printf "conformance: %d case%s in %d suite%s", cases, cases == 1 ? "" : "s", suites, suites == 1 ? "" : "s"
	if (empty > 0) printf "; %d ran no case", empty
	printf "\n"
}

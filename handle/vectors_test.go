package handle

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// atprotoVectorDir holds the AT Protocol handle syntax vectors, one handle a
// line. It lives outside the module, next to the repository checkout.
var atprotoVectorDir = filepath.Join("..", "..", "shared", "testdata", "atproto-syntax")

// readVectors returns the vectors in file with their line numbers. Lines are
// used exactly as written: they are not trimmed, because leading and trailing
// spaces are part of some invalid vectors. Empty lines and lines starting
// with "#" are skipped. The test is skipped when the folder is missing.
func readVectors(t *testing.T, file string) map[int]string {
	t.Helper()

	if _, err := os.Stat(atprotoVectorDir); errors.Is(err, os.ErrNotExist) {
		t.Skipf("AT Protocol syntax vectors not found at %s; check out the shared test data next to the repository to run this test", atprotoVectorDir)
	}
	f, err := os.Open(filepath.Join(atprotoVectorDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	vectors := make(map[int]string)
	scanner := bufio.NewScanner(f)
	for number := 1; scanner.Scan(); number++ {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		vectors[number] = line
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vectors) == 0 {
		t.Fatalf("%s contains no vectors", file)
	}
	return vectors
}

func TestATProtoValidVectors(t *testing.T) {
	t.Parallel()

	for number, line := range readVectors(t, "handle_syntax_valid.txt") {
		h, err := ParseSyntax(line)
		if err != nil {
			t.Errorf("line %d: ParseSyntax(%q) error: %v", number, line, err)
			continue
		}
		if string(h) != strings.ToLower(line) {
			t.Errorf("line %d: ParseSyntax(%q) = %q, want the lowercased input", number, line, h)
		}
	}
}

func TestATProtoInvalidVectors(t *testing.T) {
	t.Parallel()

	for number, line := range readVectors(t, "handle_syntax_invalid.txt") {
		h, err := ParseSyntax(line)
		var syntaxErr *SyntaxError
		if !errors.As(err, &syntaxErr) {
			t.Errorf("line %d: ParseSyntax(%q) = %q, %v; want *SyntaxError", number, line, h, err)
		}
	}
}

// Parse must reject exactly those valid vectors whose last label is reserved,
// and accept all others unchanged.
func TestParseReservedVectors(t *testing.T) {
	t.Parallel()

	rejected := 0
	for number, line := range readVectors(t, "handle_syntax_valid.txt") {
		lower := strings.ToLower(line)
		tld := lower[strings.LastIndexByte(lower, '.')+1:]

		h, err := Parse(line)
		var reservedErr *ReservedTLDError
		switch {
		case reservedTLDs[tld]:
			rejected++
			if !errors.As(err, &reservedErr) {
				t.Errorf("line %d: Parse(%q) = %q, %v; want *ReservedTLDError", number, line, h, err)
				continue
			}
			if reservedErr.TLD != tld || reservedErr.Handle != lower {
				t.Errorf("line %d: ReservedTLDError{Handle: %q, TLD: %q}, want {%q, %q}", number, reservedErr.Handle, reservedErr.TLD, lower, tld)
			}
		case err != nil:
			t.Errorf("line %d: Parse(%q) error: %v", number, line, err)
		case string(h) != lower:
			t.Errorf("line %d: Parse(%q) = %q, want %q", number, line, h, lower)
		}
	}
	// The valid vectors include .arpa, .local and .onion names.
	if rejected == 0 {
		t.Error("no valid vector ends in a reserved TLD; the vector file changed or the check is broken")
	}
}

package store

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKEKFile(t *testing.T, content []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, content, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // the umask may have narrowed it
		t.Fatal(err)
	}
	return path
}

func TestLoadKEKFile(t *testing.T) {
	t.Setenv(DefaultKEKEnv, "") // present but ignored below: each case sets its own
	os.Unsetenv(DefaultKEKEnv)
	hexKey := hex.EncodeToString(testKEK)
	cases := []struct {
		name    string
		content []byte
		mode    os.FileMode
		wantErr string
	}{
		{"Hex", []byte(hexKey), 0o600, ""},
		{"HexWithNewline", []byte(hexKey + "\n"), 0o400, ""},
		{"HexUpperCase", []byte(strings.ToUpper(hexKey)), 0o600, ""},
		{"Raw", testKEK, 0o600, ""},
		{"GroupReadable", []byte(hexKey), 0o640, "chmod 600"},
		{"WorldReadable", []byte(hexKey), 0o644, "chmod 600"},
		{"TooShort", []byte(hexKey[:60]), 0o600, "want 64 hex digits"},
		{"NotHex", []byte(strings.Repeat("zz", KEKSize)), 0o600, "not 64 hex digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kek, err := LoadKEK(writeKEKFile(t, tc.content, tc.mode), "")
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(kek, testKEK) {
					t.Fatalf("LoadKEK = %x, %v; want the test key", kek, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadKEK: error %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), hexKey[:16]) || strings.Contains(err.Error(), "zz") {
				t.Errorf("error message shows key material: %v", err)
			}
		})
	}
}

func TestLoadKEKEnv(t *testing.T) {
	t.Setenv("TEST_DNSHANDLE_KEK", hex.EncodeToString(testKEK))
	kek, err := LoadKEK("", "TEST_DNSHANDLE_KEK")
	if err != nil || !bytes.Equal(kek, testKEK) {
		t.Fatalf("LoadKEK from the environment = %x, %v; want the test key", kek, err)
	}

	t.Setenv("TEST_DNSHANDLE_KEK", "0123")
	if _, err := LoadKEK("", "TEST_DNSHANDLE_KEK"); err == nil || strings.Contains(err.Error(), "0123") {
		t.Errorf("LoadKEK of a short key: error %v, want one that does not show the value", err)
	}
}

func TestLoadKEKDefaultEnv(t *testing.T) {
	t.Setenv(DefaultKEKEnv, hex.EncodeToString(testKEK))
	kek, err := LoadKEK("", "")
	if err != nil || !bytes.Equal(kek, testKEK) {
		t.Fatalf("LoadKEK from %s = %x, %v; want the test key", DefaultKEKEnv, kek, err)
	}
}

func TestLoadKEKMissing(t *testing.T) {
	t.Setenv(DefaultKEKEnv, "")
	os.Unsetenv(DefaultKEKEnv)
	_, err := LoadKEK("", "")
	if err == nil || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Errorf("LoadKEK with nothing set: error %v, want one that says how to make a key", err)
	}
	_, err = LoadKEK(filepath.Join(t.TempDir(), "absent"), "")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("LoadKEK of a missing file: error %v, want one saying it does not exist", err)
	}
}

func TestLoadKEKBothSet(t *testing.T) {
	t.Setenv(DefaultKEKEnv, hex.EncodeToString(testKEK))
	file := writeKEKFile(t, []byte(hex.EncodeToString(testKEK)), 0o600)
	if _, err := LoadKEK(file, ""); err == nil || !strings.Contains(err.Error(), "keep only one") {
		t.Errorf("LoadKEK with a file and the environment variable: error %v, want one asking to keep only one", err)
	}
}

// FuzzParseKEK checks that parseKEK accepts exactly 64 hex digits with white
// space around them and never puts the input into its error.
func FuzzParseKEK(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) {
		kek, err := parseKEK(text)
		if err != nil {
			trimmed := bytes.TrimSpace(text)
			if len(trimmed) >= 4 && strings.Contains(err.Error(), string(trimmed)) {
				t.Fatalf("error shows the input: %v", err)
			}
			return
		}
		if len(kek) != KEKSize {
			t.Fatalf("parseKEK returned %d bytes", len(kek))
		}
		if !strings.EqualFold(hex.EncodeToString(kek), string(bytes.TrimSpace(text))) {
			t.Fatalf("parseKEK(%q) = %x, which is not the hex input", text, kek)
		}
	})
}

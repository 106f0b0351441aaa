package provider

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/provider/web"
)

// writeKeyFile writes the session key file of older versions with key
// sealed for purpose, and returns its path.
func writeKeyFile(t *testing.T, svc *Service, key []byte, purpose string) string {
	t.Helper()
	sealed, err := svc.Sealer.Seal(key, purpose)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(svc.Config.DataDir, sessionKeyFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSessionKeyMovesFileIntoStore(t *testing.T) {
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := testService(t)
	key := bytes.Repeat([]byte{7}, web.SessionKeySize)
	path := writeKeyFile(t, svc, key, web.SessionKeyPurpose)

	got, err := svc.sessionKey(ctx, logger)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("sessionKey = %x, %v; want the key of the file %x", got, err, key)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the key file is still there after the move: %v", err)
	}
	if _, err := svc.Store.WebSecret(ctx, "session-key"); err != nil {
		t.Errorf("the store has no session key after the move: %v", err)
	}

	// A restart without the file reads the same key from the store.
	got, err = svc.sessionKey(ctx, logger)
	if err != nil || !bytes.Equal(got, key) {
		t.Errorf("sessionKey after the move = %x, %v; want %x", got, err, key)
	}
}

func TestSessionKeyFileThatDoesNotOpen(t *testing.T) {
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := testService(t)
	path := writeKeyFile(t, svc, bytes.Repeat([]byte{7}, web.SessionKeySize), "another purpose")

	_, err := svc.sessionKey(ctx, logger)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("sessionKey with a key file for another purpose = %v, want an error that names %s", err, path)
	}
	if _, err := svc.Store.WebSecret(ctx, "session-key"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("WebSecret after the failed move = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the key file was removed although its key was not moved: %v", err)
	}
}

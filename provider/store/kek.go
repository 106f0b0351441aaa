package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// DefaultKEKEnv is the environment variable LoadKEK reads when it is given
// no other name.
const DefaultKEKEnv = "DNSHANDLE_KEK"

// makeKEKHint is the command that makes a key file, for error messages.
const makeKEKHint = "make one with: (umask 077; head -c 32 /dev/urandom | xxd -p -c 64 > kek.hex)"

// LoadKEK reads the 32-byte key-encryption key for NewSealer from file, or,
// when file is "", from the environment variable envVar (DefaultKEKEnv when
// envVar is "").
//
// The file holds either the 32 raw bytes or 64 hex digits, with optional
// white space around them. It must not be readable or writable by group or
// others (mode 0600 or 0400), or LoadKEK rejects it. The environment
// variable holds 64 hex digits. It returns an error when neither is set,
// and when both are, so that it is clear which key is used. Error messages
// never contain key material.
func LoadKEK(file string, envVar string) ([]byte, error) {
	if envVar == "" {
		envVar = DefaultKEKEnv
	}
	env, envSet := os.LookupEnv(envVar)

	switch {
	case file != "" && envSet:
		return nil, fmt.Errorf("load key-encryption key: both the file %s and the environment variable %s are set: keep only one", file, envVar)
	case file != "":
		return readKEKFile(file)
	case envSet:
		kek, err := parseKEK([]byte(env))
		if err != nil {
			return nil, fmt.Errorf("load key-encryption key from environment variable %s: %w", envVar, err)
		}
		return kek, nil
	}
	return nil, fmt.Errorf("load key-encryption key: no key file given and %s is not set: %s", envVar, makeKEKHint)
}

func readKEKFile(file string) ([]byte, error) {
	info, err := os.Stat(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load key-encryption key: file %s does not exist: %s", file, makeKEKHint)
	}
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("load key-encryption key: %s is not a regular file", file)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load key-encryption key: file %s has mode %04o, which lets group or others access it: run chmod 600 %s", file, perm, file)
	}

	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key: %w", err)
	}
	if len(data) == KEKSize {
		return data, nil
	}
	kek, err := parseKEK(data)
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key from %s: %w", file, err)
	}
	return kek, nil
}

// parseKEK decodes 64 hex digits with optional white space around them. Its
// errors name lengths only, never the characters of the input.
func parseKEK(text []byte) ([]byte, error) {
	text = bytes.TrimSpace(text)
	if len(text) != 2*KEKSize {
		return nil, fmt.Errorf("the key has %d characters, want %d hex digits (or %d raw bytes in a file): %s", len(text), 2*KEKSize, KEKSize, makeKEKHint)
	}
	kek := make([]byte, KEKSize)
	if _, err := hex.Decode(kek, text); err != nil {
		return nil, fmt.Errorf("the key is not %d hex digits: %s", 2*KEKSize, makeKEKHint)
	}
	return kek, nil
}

package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of HashPassword: the second recommended option of
// RFC 9106, section 4, meant for memory-constrained use: t=3 passes over
// m=64 MiB with p=4 lanes, a 128-bit salt and a 256-bit tag. One hash takes
// 64 MiB of memory while it runs.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 4
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds that CheckPassword applies to the parameters of a stored hash, so
// that a corrupt or hostile hash cannot make it use gigabytes of memory or
// minutes of CPU.
const (
	maxArgonMemory = 1024 * 1024 // KiB, 1 GiB
	maxArgonTime   = 64
	minArgonSalt   = 8  // bytes, the minimum of RFC 9106, section 3.1
	minArgonKey    = 16 // bytes
	maxArgonKey    = 128
)

// HashPassword returns the argon2id hash of password as a PHC string:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>, with the salt and hash in
// unpadded standard base64. Each call uses a new random salt. It takes
// 64 MiB of memory and, on a current server core, on the order of 100 ms
// (an estimate: the cost grows with t and m).
func HashPassword(password string) (string, error) {
	return hashPassword(password, argonMemory, argonTime, argonThreads)
}

// hashPassword is HashPassword with the given memory (KiB), passes and
// lanes.
func hashPassword(password string, memory, time uint32, threads uint8) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, time, memory, threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memory, time, threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, a PHC string made by
// HashPassword or by another argon2id implementation within the bounds
// above. The comparison takes the same time wherever the hashes differ. It
// returns a *PasswordHashError, and false, when hash is malformed.
func CheckPassword(hash, password string) (bool, error) {
	p, err := parsePasswordHash(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// PasswordHashError reports a stored password hash that CheckPassword cannot
// use. It never contains the password.
type PasswordHashError struct {
	// Reason describes what is wrong with the hash.
	Reason string
}

// Error returns a message with the reason.
func (e *PasswordHashError) Error() string {
	return "invalid argon2id password hash: " + e.Reason + ": set a new password to replace it"
}

// passwordHash is a parsed argon2id PHC string.
type passwordHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parsePasswordHash(hash string) (*passwordHash, error) {
	bad := func(format string, args ...any) error {
		return &PasswordHashError{Reason: fmt.Sprintf(format, args...)}
	}

	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	fields := strings.Split(hash, "$")
	if len(fields) != 6 || fields[0] != "" {
		return nil, bad("want 5 fields $argon2id$v=19$m=M,t=T,p=P$SALT$HASH, have %d", len(fields)-1)
	}
	if fields[1] != "argon2id" {
		return nil, bad("algorithm %q is not argon2id", quotable(fields[1]))
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, bad("version field %q is not v=%d", quotable(fields[2]), argon2.Version)
	}

	p := &passwordHash{}
	params, err := parseArgonParams(fields[3])
	if err != nil {
		return nil, bad("%s", err)
	}
	p.memory, p.time, p.threads = params[0], params[1], uint8(params[2])

	if p.salt, err = base64.RawStdEncoding.Strict().DecodeString(fields[4]); err != nil || len(p.salt) < minArgonSalt {
		return nil, bad("the salt is not unpadded base64 of at least %d bytes", minArgonSalt)
	}
	if p.key, err = base64.RawStdEncoding.Strict().DecodeString(fields[5]); err != nil || len(p.key) < minArgonKey || len(p.key) > maxArgonKey {
		return nil, bad("the hash is not unpadded base64 of %d to %d bytes", minArgonKey, maxArgonKey)
	}
	return p, nil
}

// parseArgonParams parses "m=M,t=T,p=P" in this order and checks the bounds.
func parseArgonParams(field string) ([3]uint32, error) {
	var out [3]uint32
	names := [3]string{"m", "t", "p"}
	limits := [3]uint64{maxArgonMemory, maxArgonTime, 255}
	parts := strings.Split(field, ",")
	if len(parts) != 3 {
		return out, fmt.Errorf("parameters %q are not m=M,t=T,p=P", quotable(field))
	}
	for i, part := range parts {
		name, value, ok := strings.Cut(part, "=")
		if !ok || name != names[i] {
			return out, fmt.Errorf("parameters %q are not m=M,t=T,p=P", quotable(field))
		}
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil || n == 0 || n > limits[i] || (value[0] == '0') {
			return out, fmt.Errorf("parameter %s=%q is not a number from 1 to %d", name, quotable(value), limits[i])
		}
		out[i] = uint32(n)
	}
	// Argon2 needs at least 8 KiB of memory per lane (RFC 9106, section 3.1).
	if out[0] < 8*out[2] {
		return out, fmt.Errorf("memory m=%d KiB is less than 8 KiB per lane for p=%d", out[0], out[2])
	}
	return out, nil
}

// quotable cuts s to 64 bytes for an error message.
func quotable(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

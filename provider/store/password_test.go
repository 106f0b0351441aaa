package store

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestHashPasswordFormat(t *testing.T) {
	t.Parallel()
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(hash) {
		t.Fatalf("HashPassword = %q, want a PHC string with m=65536,t=3,p=4, a 16-byte salt and a 32-byte hash", hash)
	}
	if strings.Contains(hash, "horse") {
		t.Error("the hash contains the password")
	}

	ok, err := CheckPassword(hash, "correct horse battery staple")
	if err != nil || !ok {
		t.Errorf("CheckPassword(right password) = %v, %v; want true", ok, err)
	}
}

// TestHashPasswordSmall checks hashing with small parameters, so that it
// can afford several hashes.
func TestHashPasswordSmall(t *testing.T) {
	t.Parallel()
	hash, err := hashPassword("secret", 64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=2$") {
		t.Errorf("hash %q does not carry its parameters", hash)
	}
	ok, err := CheckPassword(hash, "secret")
	if err != nil || !ok {
		t.Errorf("CheckPassword(right password) = %v, %v; want true", ok, err)
	}
	ok, err = CheckPassword(hash, "Secret")
	if err != nil || ok {
		t.Errorf("CheckPassword(wrong password) = %v, %v; want false", ok, err)
	}
	again, err := hashPassword("secret", 64, 1, 2)
	if err != nil || again == hash {
		t.Errorf("two hashes of one password are equal (%v), want different salts", err)
	}
}

// TestCheckPasswordReferenceVectors checks hashes made by the reference
// implementation: the argon2 command of the Debian package argon2
// 0~20171227-0.3+deb12u1, for example
// `echo -n password | argon2 somesaltsomesalt -id -t 2 -k 64 -p 1 -l 16 -e`.
func TestCheckPasswordReferenceVectors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, password, hash string }{
		{"RecommendedParameters", "correct horse battery staple",
			"$argon2id$v=19$m=65536,t=3,p=4$ZG5zaGFuZGxlLXNhbHQtMTY$Ry7wWmxCfwYD2C2QLbRTPPqYAOUOVb34gq7Su8NGslQ"},
		{"SmallOneLane", "password", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$eSqXvpoaUP6jbXltItIBAw"},
		{"SmallTwoLanes", "password", "$argon2id$v=19$m=64,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$wmMxfQAvhLU0L6ZvoWnkvOajVqE/GRkzRjIu81IuBwI"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, err := CheckPassword(tc.hash, tc.password)
			if err != nil || !ok {
				t.Errorf("CheckPassword(reference hash) = %v, %v; want true", ok, err)
			}
			if strings.Contains(tc.hash, "m=65536") {
				return // one run of the expensive parameters is enough
			}
			ok, err = CheckPassword(tc.hash, tc.password+"x")
			if err != nil || ok {
				t.Errorf("CheckPassword(reference hash, wrong password) = %v, %v; want false", ok, err)
			}
		})
	}
}

func TestCheckPasswordRejectsMalformed(t *testing.T) {
	t.Parallel()
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "eSqXvpoaUP6jbXltItIBAw"
	cases := map[string]string{
		"Empty":          "",
		"Bcrypt":         "$2b$12$abcdefghijklmnopqrstuuJx1Qy0fK8y2F2rYt1p0bq1a2b3c4d5e",
		"Argon2i":        "$argon2i$v=19$m=64,t=2,p=1$" + salt + "$" + key,
		"OldVersion":     "$argon2id$v=16$m=64,t=2,p=1$" + salt + "$" + key,
		"NoVersion":      "$argon2id$m=64,t=2,p=1$" + salt + "$" + key,
		"ParamOrder":     "$argon2id$v=19$t=2,m=64,p=1$" + salt + "$" + key,
		"ZeroTime":       "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"HugeMemory":     "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key,
		"MemoryPerLane":  "$argon2id$v=19$m=8,t=2,p=2$" + salt + "$" + key,
		"TooManyLanes":   "$argon2id$v=19$m=65536,t=2,p=256$" + salt + "$" + key,
		"LeadingZero":    "$argon2id$v=19$m=064,t=2,p=1$" + salt + "$" + key,
		"ShortSalt":      "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$" + key,
		"PaddedSalt":     "$argon2id$v=19$m=64,t=2,p=1$" + salt + "==$" + key,
		"ShortHash":      "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$aGFzaA",
		"TrailingField":  "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key + "$",
		"MissingDollar":  "argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + key,
		"NegativeMemory": "$argon2id$v=19$m=-64,t=2,p=1$" + salt + "$" + key,
	}
	for name, hash := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ok, err := CheckPassword(hash, "password")
			var hashErr *PasswordHashError
			if ok || !errors.As(err, &hashErr) {
				t.Errorf("CheckPassword(%q) = %v, %v; want false and a *PasswordHashError", hash, ok, err)
			}
		})
	}
}

// FuzzParsePasswordHash checks that the PHC parser never panics, returns
// only *PasswordHashError, and keeps to the parameter bounds.
func FuzzParsePasswordHash(f *testing.F) {
	f.Fuzz(func(t *testing.T, hash string) {
		p, err := parsePasswordHash(hash)
		if err != nil {
			var hashErr *PasswordHashError
			if !errors.As(err, &hashErr) {
				t.Fatalf("error of type %T, want *PasswordHashError", err)
			}
			return
		}
		if p.memory > maxArgonMemory || p.time > maxArgonTime || p.time == 0 || p.threads == 0 ||
			p.memory < 8*uint32(p.threads) || len(p.salt) < minArgonSalt || len(p.key) < minArgonKey || len(p.key) > maxArgonKey {
			t.Fatalf("accepted parameters out of bounds: %+v", p)
		}
	})
}

package store

import (
	"bytes"

	"github.com/miekg/dns"
)

// maxNameWireLength is the limit on a domain name in wire format
// (RFC 1035, section 2.3.4).
const maxNameWireLength = 255

// normalizeName checks that name is a fully qualified domain name in
// presentation format and returns it with ASCII letters lowercased.
func normalizeName(name string) (string, error) {
	if name == "" {
		return "", &InvalidNameError{Name: name, Reason: "is empty"}
	}
	if !dns.IsFqdn(name) {
		return "", &InvalidNameError{Name: name, Reason: `is not fully qualified: add the trailing "."`}
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", &InvalidNameError{Name: name, Reason: "is not a valid domain name in presentation format"}
	}
	return asciiLower(name), nil
}

// asciiLower lowercases ASCII letters only, as DNS name comparison does
// (RFC 4343, section 3), and leaves every other byte alone.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// ownerKey returns the sort key of a name: its labels in wire format from the
// root down, lowercased, each followed by a zero byte. Byte order of the keys
// is the canonical DNS name order of RFC 4034, section 6.1, and the keys of
// the names below a name are exactly the longer keys that start with its key.
// Labels that contain a zero byte are rejected because the zero byte ends a
// label in the key.
func ownerKey(name string) ([]byte, error) {
	wire := make([]byte, maxNameWireLength)
	n, err := dns.PackDomainName(name, wire, 0, nil, false)
	if err != nil {
		return nil, &InvalidNameError{Name: name, Reason: "cannot be encoded in wire format: " + err.Error()}
	}
	wire = wire[:n]

	var labels [][]byte
	for off := 0; off < len(wire) && wire[off] != 0; {
		length := int(wire[off])
		label := wire[off+1 : off+1+length]
		if bytes.IndexByte(label, 0) >= 0 {
			return nil, &InvalidNameError{Name: name, Reason: "has a label with a zero byte, which the store does not support"}
		}
		labels = append(labels, label)
		off += 1 + length
	}

	key := make([]byte, 0, len(wire))
	for i := len(labels) - 1; i >= 0; i-- {
		for _, c := range labels[i] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			key = append(key, c)
		}
		key = append(key, 0)
	}
	return key, nil
}

// subtreeEnd returns the smallest key greater than the keys of every name
// below the name whose key is key, or nil for the root, whose subtree has no
// upper bound. It relies on key ending with the zero byte that ends a label:
// every name below starts with key, so it sorts before key with that byte
// raised to 1.
func subtreeEnd(key []byte) []byte {
	if len(key) == 0 {
		return nil
	}
	end := bytes.Clone(key)
	end[len(end)-1] = 1
	return end
}

// inSubtree reports whether the name whose key is key is the name whose key
// is top or a name below it.
func inSubtree(top, key []byte) bool {
	return bytes.HasPrefix(key, top)
}

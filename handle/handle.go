package handle

import "strings"

// Handle is a normalized DNS handle: lowercase ASCII, internationalized labels
// as A-labels, no leading "@" and no trailing dot, for example
// "alice.example.com". The zero value is the empty handle, which no parser
// returns.
type Handle string

// String returns the stored form, for example "alice.example.com".
func (h Handle) String() string { return string(h) }

// IsSubdomainOf reports whether h equals suffix or lies below it, such as
// "alice.dhp.test" below "dhp.test". Labels are compared whole, so
// "malice.test" is not below "alice.test". An empty suffix matches nothing.
func (h Handle) IsSubdomainOf(suffix Handle) bool {
	if suffix == "" {
		return false
	}
	if h == suffix {
		return true
	}
	return strings.HasSuffix(string(h), "."+string(suffix))
}

// ParseSyntax checks s against the AT Protocol handle syntax only and returns
// it lowercased. It accepts reserved top-level domains such as .local; use
// Parse unless you need to agree with other AT Protocol implementations on
// syntax alone. Errors are *SyntaxError.
func ParseSyntax(s string) (Handle, error) {
	if err := checkSyntax(s); err != nil {
		return "", err
	}
	return Handle(toLowerASCII(s)), nil
}

// Parse is the strict parser for handles read from DNS records, certificates
// and other machine-written sources. It applies ParseSyntax and then rejects
// the reserved top-level domains .alt, .arpa, .example, .internal, .invalid,
// .local, .localhost and .onion. The .test domain is allowed. Parse accepts
// upper case ASCII and lowercases it, but it rejects white space, "@" and
// Unicode. Errors are *SyntaxError or *ReservedTLDError.
func Parse(s string) (Handle, error) {
	h, err := ParseSyntax(s)
	if err != nil {
		return "", err
	}
	if tld, reserved := reservedTLD(h); reserved {
		return "", &ReservedTLDError{Handle: string(h), TLD: tld}
	}
	return h, nil
}

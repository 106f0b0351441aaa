package handle

import (
	"fmt"
	"unicode/utf8"
)

// maxQuotedInput is the number of bytes of an input that error messages
// quote. Longer inputs are cut, so that a megabyte of garbage does not end up
// in a log line. The Input fields always keep the whole input.
const maxQuotedInput = 300

// SyntaxError reports a handle that breaks a syntax rule.
type SyntaxError struct {
	// Input is the string that was checked. For ParseInput it is the input
	// without surrounding white space and the leading "@", or its A-label
	// form when the error was found after the IDNA conversion.
	Input string

	// Label is the 1-based number, counted from the left, of the label that
	// breaks the rule, or 0 when the rule applies to the whole handle.
	Label int

	// Reason describes the broken rule, for example "ends with a hyphen".
	// Error prefixes it with "label N" or "the name".
	Reason string

	// err is the IDNA error behind the failure, if any.
	err error
}

// Error returns a message such as
// `invalid handle "john-.test": label 1 ends with a hyphen`.
func (e *SyntaxError) Error() string {
	subject := "the name"
	if e.Label > 0 {
		subject = fmt.Sprintf("label %d", e.Label)
	}
	return fmt.Sprintf("invalid handle %q: %s %s", quotable(e.Input), subject, e.Reason)
}

// Unwrap returns the IDNA conversion error behind the failure, or nil.
func (e *SyntaxError) Unwrap() error { return e.err }

// ReservedTLDError reports a handle that is syntactically valid but ends in a
// top-level domain that this profile reserves, such as .local or .onion.
type ReservedTLDError struct {
	// Handle is the normalized handle.
	Handle string

	// TLD is the reserved top-level label, without a dot, for example "local".
	TLD string
}

// Error returns a message that names the domain and suggests what to use
// instead.
func (e *ReservedTLDError) Error() string {
	return fmt.Sprintf("handle %q uses reserved TLD .%s: choose a name under a registrable domain (.test is allowed for testing)",
		quotable(e.Handle), e.TLD)
}

// DIDError reports a DID that is malformed or uses an unsupported method or
// key type.
type DIDError struct {
	// Input is the DID string as given.
	Input string

	// Reason describes what is wrong, for example
	// `multibase prefix must be "z" (base58btc)`.
	Reason string
}

// Error returns a message such as
// `invalid DID "did:key:x": multibase prefix must be "z" (base58btc)`.
func (e *DIDError) Error() string {
	return fmt.Sprintf("invalid DID %q: %s", quotable(e.Input), e.Reason)
}

// KeyError reports a public key that DIDKeyFromPublicKey cannot encode.
type KeyError struct {
	// Type is the Go type of the key, for example "*ecdsa.PublicKey".
	Type string

	// Reason describes what is wrong with the key.
	Reason string
}

// Error returns a message that names the key type and the problem.
func (e *KeyError) Error() string {
	return fmt.Sprintf("cannot encode %s as did:key: %s", e.Type, e.Reason)
}

// quotable returns s cut to maxQuotedInput bytes at a rune boundary, with
// "..." appended when it was cut.
func quotable(s string) string {
	if len(s) <= maxQuotedInput {
		return s
	}
	cut := maxQuotedInput
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

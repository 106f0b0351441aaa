// Package handle parses and normalizes DNS handles such as @alice.example.com
// and the DIDs (decentralized identifiers) that handles are bound to.
//
// # Handles
//
// A Handle is stored in one canonical form: lowercase ASCII, internationalized
// labels as A-labels ("xn--..."), no leading "@" and no trailing dot. Two
// handles name the same identity exactly when their strings are equal.
//
// The package has a strict parser and a lenient one, because handles reach a
// program from two kinds of sources:
//
//   - Parse is strict. It is meant for handles read from DNS records,
//     certificates, tokens and databases, where only the canonical form is
//     correct. It applies the AT Protocol handle syntax. A handle is ASCII,
//     at most 253 characters long, has at least two labels and no trailing
//     dot. Each label has 1 to 63 characters from [a-z0-9-] and neither starts
//     nor ends with a hyphen, and the last label does not start with a digit.
//     Upper case letters are accepted and lowercased. Parse then rejects
//     reserved top-level domains.
//   - ParseInput is lenient. It is meant for what people type: it trims white
//     space, removes one leading "@", folds case and converts Unicode labels to
//     A-labels with IDNA 2008 (RFC 5891, section 5) before it calls Parse.
//
// Reserved top-level domains are checked apart from the syntax, in Parse but
// not in ParseSyntax. The AT Protocol syntax accepts names such as
// laptop.local, example.arpa and names under .onion, and its published test
// vectors list them as valid. This project's profile rejects these names for
// registration and resolution. Some are never delegated in the public DNS
// (.local, .onion, .alt, .internal, .invalid, .localhost), and the others are
// set aside for documentation and infrastructure (.example, .arpa). The .test
// domain stays allowed so that development setups and tests can use it.
// ParseSyntax exists for code that must agree with other AT Protocol
// implementations on syntax alone.
//
// Errors are typed: *SyntaxError names the broken rule and the 1-based label
// number counted from the left, and *ReservedTLDError names the domain.
//
// # DIDs
//
// ParseDID accepts did:key (P-256 and Ed25519 keys), did:web and did:plc.
// For did:key, DID.PublicKey decodes the key and DIDKeyFromPublicKey encodes
// one, so a key and its DID convert both ways without loss.
//
// All functions and methods in this package are safe for concurrent use.
package handle

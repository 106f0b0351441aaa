package verify

import (
	"context"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/resolve"
)

// MethodTLS is the Identity.Method of a TLS client certificate login.
const MethodTLS = "tls"

// Identity is the verified result a relying party gets for a client, by
// either login method. The zero value is no identity.
type Identity struct {
	// Handle is the verified handle, for example "alice.dhp.test".
	Handle handle.Handle
	// DID is the permanent identifier. It is "" only when the Policy allowed
	// a handle without did= and the leaf carried no did:key bound to an
	// accredited key.
	DID string
	// Device is the lowercase hex SHA-256 of the leaf's
	// SubjectPublicKeyInfo; "" for OIDC logins.
	Device string
	// DNSSEC is the weakest DNSSEC status of the RRsets the verification
	// used (TLSA, and TXT when it supplied the DID).
	DNSSEC resolve.Status
	// Method is "tls" (MethodTLS) or "oidc".
	Method string
}

type identityKey struct{}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the Identity stored by NewContext (or Middleware) and
// whether there is one. A nil *Identity counts as none.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}

package verify

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/resolve"
)

// bindDID checks the leaf's URI SAN against the did= value in DNS and, for
// did:key, against the accredited keys. It returns the DID of the Identity.
func (v *Verifier) bindDID(leaf *x509.Certificate, res *resolve.Result, anchors []anchor) (string, error) {
	published := res.ATProto.DID
	if len(leaf.URIs) > 1 || (len(leaf.URIs) == 0 && published != "") {
		return "", &SANError{Kind: "URI", Values: uriStrings(leaf)}
	}
	if len(leaf.URIs) == 0 {
		if !v.Policy.AllowMissingDID {
			return "", &MissingDIDError{Name: records.OwnerATProto(res.Handle)}
		}
		return "", nil
	}

	claimed, err := handle.ParseDID(leaf.URIs[0].String())
	if err != nil {
		return "", err
	}

	if published == "" {
		if !v.Policy.AllowMissingDID {
			return "", &MissingDIDError{Name: records.OwnerATProto(res.Handle)}
		}
		// With no did= in DNS only a did:key of an accredited key is still
		// bound to the handle. Any other DID in the leaf is left out.
		if claimed.Method == "key" && checkDIDKey(claimed, anchors) == nil {
			return claimed.String(), nil
		}
		return "", nil
	}

	if _, err := handle.ParseDID(published); err != nil {
		return "", fmt.Errorf("the did= value published at %s is invalid: %w", records.OwnerATProto(res.Handle), err)
	}
	if claimed.String() != published {
		return "", &DIDMismatchError{Certificate: claimed.String(), DNS: published}
	}

	// NOTE: did:web and did:plc are bound by the did= record alone: the
	// verifier does not fetch the DID document to find the CSC key in it.
	if claimed.Method == "key" {
		if err := checkDIDKey(claimed, anchors); err != nil {
			return "", err
		}
	}
	return claimed.String(), nil
}

// checkDIDKey requires the did:key to be the key of one of the anchors.
func checkDIDKey(d handle.DID, anchors []anchor) error {
	pub, err := d.PublicKey()
	if err != nil {
		return err
	}
	for _, a := range anchors {
		if k, ok := a.key.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(pub) {
			return nil
		}
	}
	return &DIDKeyError{DID: d.String()}
}

func uriStrings(cert *x509.Certificate) []string {
	values := make([]string, len(cert.URIs))
	for i, u := range cert.URIs {
		values[i] = u.String()
	}
	return values
}

package oidclogin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// dpopKey is the key of one login's DPoP proofs (RFC 9449): ES256 on
// P-256, created when the login starts and kept in the pending cookie until
// the token exchange.
type dpopKey struct {
	priv   *ecdsa.PrivateKey
	signer jose.Signer
}

// newDPoPKey creates a fresh key.
func newDPoPKey() (*dpopKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return dpopKeyFrom(priv)
}

// parseDPoPKey restores a key from its raw private scalar.
func parseDPoPKey(raw []byte) (*dpopKey, error) {
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, err
	}
	return dpopKeyFrom(priv)
}

func dpopKeyFrom(priv *ecdsa.PrivateKey) (*dpopKey, error) {
	// RFC 9449, section 4.2: the header carries typ "dpop+jwt" and the
	// public key as jwk.
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, opts)
	if err != nil {
		return nil, err
	}
	return &dpopKey{priv: priv, signer: signer}, nil
}

// bytes returns the raw private scalar for the pending cookie.
func (k *dpopKey) bytes() ([]byte, error) {
	return k.priv.Bytes()
}

// thumbprint returns the JWK SHA-256 thumbprint of the public key (RFC
// 7638), the value of dpop_jkt (RFC 9449, section 10).
func (k *dpopKey) thumbprint() (string, error) {
	jwk := jose.JSONWebKey{Key: &k.priv.PublicKey}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// dpopClaims is the payload of a proof (RFC 9449, section 4.2).
type dpopClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
}

// proof returns a DPoP proof for one request. The htu claim is the target
// URI without query and fragment (RFC 9449, section 4.2). The nonce is the
// server's last DPoP-Nonce, "" when it sent none.
func (k *dpopKey) proof(method, target, nonce string, now time.Time) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("DPoP target %q: %w", target, err)
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""

	payload, err := json.Marshal(dpopClaims{
		JTI:   randomToken(16),
		HTM:   method,
		HTU:   u.String(),
		IAT:   now.Unix(),
		Nonce: nonce,
	})
	if err != nil {
		return "", err
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// randomToken returns n random bytes in unpadded base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

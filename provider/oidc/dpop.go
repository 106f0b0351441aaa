package oidc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// dpopAlgorithms are the JWS algorithms accepted in DPoP proofs, all
// asymmetric (RFC 9449, section 4.3).
var dpopAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256}

// dpopAlgorithmNames lists dpopAlgorithms for discovery and for the algs
// parameter of a WWW-Authenticate challenge.
func dpopAlgorithmNames() []string {
	names := make([]string, len(dpopAlgorithms))
	for i, a := range dpopAlgorithms {
		names[i] = string(a)
	}
	return names
}

// Limits of DPoP proofs.
const (
	// maxDPoPProofLength bounds a proof in bytes. A proof with an RSA 4096
	// key is under 2 KiB.
	maxDPoPProofLength = 8 << 10

	// maxDPoPClaimLength bounds jti and nonce.
	maxDPoPClaimLength = 512

	// minDPoPRSABits is the least RSA modulus size of a proof key.
	minDPoPRSABits = 2048

	// dpopFutureSkew is how far in the future the iat of a proof may lie,
	// for clocks that run a little ahead.
	dpopFutureSkew = time.Minute
)

// dpopProof is a DPoP proof whose header, signature and claim syntax were
// checked (RFC 9449, section 4.2).
type dpopProof struct {
	// jkt is the JWK SHA-256 thumbprint (RFC 7638) of the proof key in
	// unpadded base64url, the value tokens are bound to.
	jkt string

	jti, htm, htu, nonce, ath string
	iat                       time.Time
}

// dpopError reports a DPoP proof that the provider rejects.
type dpopError struct {
	// code is "invalid_dpop_proof", or "use_dpop_nonce" when the proof lacks
	// a valid server nonce (RFC 9449, section 8).
	code string

	// reason describes what is wrong.
	reason string
}

func (e *dpopError) Error() string { return "DPoP proof rejected: " + e.reason }

func invalidProof(format string, args ...any) *dpopError {
	return &dpopError{code: errInvalidDPoPProof, reason: fmt.Sprintf(format, args...)}
}

// dpopClaims are the claims of a proof as they appear in the JWT.
type dpopClaims struct {
	JTI   *string      `json:"jti"`
	HTM   *string      `json:"htm"`
	HTU   *string      `json:"htu"`
	IAT   *json.Number `json:"iat"`
	Nonce *string      `json:"nonce"`
	ATH   *string      `json:"ath"`
}

// parseDPoPProof parses a DPoP proof JWT in compact serialization. It checks
// the header (typ dpop+jwt, an accepted asymmetric alg, a public jwk that
// fits the alg), the signature with that jwk and the syntax of the claims,
// following RFC 9449, section 4.3. The checks against the
// request (htm, htu, iat, nonce, ath, jti) are the caller's. Errors are
// *dpopError.
func parseDPoPProof(compact string) (*dpopProof, error) {
	if len(compact) > maxDPoPProofLength {
		return nil, invalidProof("the proof has %d bytes, more than the %d accepted", len(compact), maxDPoPProofLength)
	}
	jws, err := jose.ParseSignedCompact(compact, dpopAlgorithms)
	if err != nil {
		return nil, invalidProof("the proof is not a JWS in compact serialization signed with one of %s: %v", strings.Join(dpopAlgorithmNames(), ", "), err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalidProof("the proof has %d signatures, want 1", len(jws.Signatures))
	}
	header := jws.Signatures[0].Protected
	if typ, _ := header.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return nil, invalidProof("the typ header is %q, want \"dpop+jwt\"", truncate(typ, 64))
	}
	key := header.JSONWebKey
	if key == nil {
		return nil, invalidProof("the jwk header with the public key is missing")
	}
	if !key.Valid() || !key.IsPublic() {
		return nil, invalidProof("the jwk header must hold a valid public key and no private key")
	}
	if err := checkProofKey(jose.SignatureAlgorithm(header.Algorithm), key.Key); err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, invalidProof("the signature does not verify with the key in the jwk header")
	}
	thumbprint, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, invalidProof("the thumbprint of the jwk cannot be computed: %v", err)
	}

	proof, err := parseDPoPClaims(payload)
	if err != nil {
		return nil, err
	}
	proof.jkt = base64.RawURLEncoding.EncodeToString(thumbprint)
	return proof, nil
}

// checkProofKey checks that the key type fits the algorithm and is strong
// enough.
func checkProofKey(alg jose.SignatureAlgorithm, key any) error {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if alg == jose.ES256 && k.Curve == elliptic.P256() {
			return nil
		}
	case ed25519.PublicKey:
		if alg == jose.EdDSA {
			return nil
		}
	case *rsa.PublicKey:
		if alg != jose.RS256 && alg != jose.PS256 {
			break
		}
		if k.N.BitLen() < minDPoPRSABits {
			return invalidProof("the RSA key has %d bits, fewer than %d", k.N.BitLen(), minDPoPRSABits)
		}
		return nil
	}
	return invalidProof("the jwk is a %T, which does not fit the algorithm %s", key, alg)
}

// parseDPoPClaims decodes the claims of a proof and checks their syntax.
func parseDPoPClaims(payload []byte) (*dpopProof, error) {
	var c dpopClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, invalidProof("the claims are not a JSON object of the DPoP claims: %v", err)
	}
	switch {
	case c.JTI == nil || *c.JTI == "":
		return nil, invalidProof("the jti claim is missing")
	case c.HTM == nil || *c.HTM == "":
		return nil, invalidProof("the htm claim is missing")
	case c.HTU == nil || *c.HTU == "":
		return nil, invalidProof("the htu claim is missing")
	case c.IAT == nil:
		return nil, invalidProof("the iat claim is missing")
	case len(*c.JTI) > maxDPoPClaimLength:
		return nil, invalidProof("the jti claim is longer than %d bytes", maxDPoPClaimLength)
	case c.Nonce != nil && len(*c.Nonce) > maxDPoPClaimLength:
		return nil, invalidProof("the nonce claim is longer than %d bytes", maxDPoPClaimLength)
	}
	seconds, err := c.IAT.Float64()
	if err != nil || math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds < 0 || seconds > 1e11 {
		return nil, invalidProof("the iat claim %q is not a time in seconds since 1970", truncate(c.IAT.String(), 32))
	}

	proof := &dpopProof{jti: *c.JTI, htm: *c.HTM, htu: *c.HTU, iat: time.Unix(int64(seconds), 0)}
	if c.Nonce != nil {
		proof.nonce = *c.Nonce
	}
	if c.ATH != nil {
		proof.ath = *c.ATH
	}
	return proof, nil
}

// accessTokenHash returns the ath value of an access token: the unpadded
// base64url SHA-256 of its ASCII form (RFC 9449, section 4.2).
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

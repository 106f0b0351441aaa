package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/acme"
)

// userAgent identifies this client to ACME servers, RFC 8555, section 6.1.
const userAgent = "dnshandle-client"

// maxResponseSize bounds the ACME responses this package reads itself.
const maxResponseSize = 1 << 20

// ProtocolError reports a failed step of an exchange with the ACME server.
// Err is often an *acme.Error with the server's problem document.
type ProtocolError struct {
	// Step names the exchange: "directory", "register", "order",
	// "finalize", "renewal information", "revoke".
	Step string
	Err  error
}

func (e *ProtocolError) Error() string { return "acme " + e.Step + ": " + e.Err.Error() }

func (e *ProtocolError) Unwrap() error { return e.Err }

// directory holds the directory members this package uses beyond those of
// acme.Directory: renewalInfo (RFC 9773, section 3) is not in it.
type directory struct {
	NewNonce    string `json:"newNonce"`
	NewOrder    string `json:"newOrder"`
	RenewalInfo string `json:"renewalInfo"`
}

func fetchDirectory(ctx context.Context, hc *http.Client, url string) (*directory, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &ProtocolError{Step: "directory", Err: err}
	}
	req.Header.Set("User-Agent", userAgent)
	res, err := hc.Do(req)
	if err != nil {
		return nil, &ProtocolError{Step: "directory", Err: err}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &ProtocolError{Step: "directory", Err: fmt.Errorf("GET %s: HTTP status %s", url, res.Status)}
	}
	var d directory
	if err := json.NewDecoder(io.LimitReader(res.Body, maxResponseSize)).Decode(&d); err != nil {
		return nil, &ProtocolError{Step: "directory", Err: fmt.Errorf("GET %s: %w", url, err)}
	}
	return &d, nil
}

// orderResponse is the part of an order object that renewal needs.
type orderResponse struct {
	Status   string `json:"status"`
	Finalize string `json:"finalize"`
}

// newOrder posts a newOrder request with an optional RFC 9773 replaces
// field, which golang.org/x/crypto/acme cannot send. It signs the request
// itself with the account key and kid, and retries once on badNonce.
func newOrder(ctx context.Context, hc *http.Client, dir *directory, key crypto.Signer, kid string, payload any) (*acme.Order, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		res, err := signedPost(ctx, hc, dir, key, kid, dir.NewOrder, body)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseSize))
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if res.StatusCode == http.StatusCreated {
			var o orderResponse
			if err := json.Unmarshal(data, &o); err != nil {
				return nil, fmt.Errorf("order object: %w", err)
			}
			return &acme.Order{URI: res.Header.Get("Location"), Status: o.Status, FinalizeURL: o.Finalize}, nil
		}
		perr := problemError(res, data)
		if perr.ProblemType == "urn:ietf:params:acme:error:badNonce" && attempt == 0 {
			continue
		}
		return nil, perr
	}
}

func problemError(res *http.Response, data []byte) *acme.Error {
	e := &acme.Error{StatusCode: res.StatusCode, Header: res.Header}
	var doc struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(data, &doc) == nil {
		e.ProblemType, e.Detail = doc.Type, doc.Detail
	} else {
		e.Detail = string(bytes.TrimSpace(data))
	}
	return e
}

// signedPost sends body as a flattened JWS signed by key with kid, RFC
// 8555, section 6.2, with a nonce fetched from newNonce.
func signedPost(ctx context.Context, hc *http.Client, dir *directory, key crypto.Signer, kid, url string, body []byte) (*http.Response, error) {
	nonce, err := fetchNonce(ctx, hc, dir.NewNonce)
	if err != nil {
		return nil, err
	}
	alg, err := jwsAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithHeader("nonce", nonce).WithHeader("url", url)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		return nil, err
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return nil, err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(jws.FullSerialize())))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/jose+json")
	req.Header.Set("User-Agent", userAgent)
	return hc.Do(req)
}

func fetchNonce(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", userAgent)
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	nonce := res.Header.Get("Replay-Nonce")
	if nonce == "" {
		return "", fmt.Errorf("HEAD %s: no Replay-Nonce in the response (HTTP status %s)", url, res.Status)
	}
	return nonce, nil
}

func jwsAlgorithm(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		return jose.RS256, nil
	}
	return "", errors.New("account key type is not supported for signing; use P-256")
}

package oidclogin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testOP is a small OpenID provider for the parts of the flow that
// zitadel's example OP lacks: dynamic registration (RFC 7591), PAR (RFC
// 9126), DPoP with server nonces (RFC 9449), the iss parameter (RFC 9207)
// and post_logout_redirect_uris at its end_session_endpoint (OpenID
// Connect RP-Initiated Logout 1.0). It checks what a real provider checks at those endpoints (client
// authentication, PKCE S256, DPoP proof signature, typ, htm, htu, iat,
// nonce, jti replay and key binding) and signs ES256 ID tokens. It
// approves every authorization request without a login page.
type testOP struct {
	tb     testing.TB
	srv    *httptest.Server
	issuer string
	key    *ecdsa.PrivateKey
	opts   testOPOptions

	mu        sync.Mutex
	clients   map[string]testClient
	requests  map[string]url.Values // by request_uri
	codes     map[string]*testGrant
	idTokens  map[string]string // issued ID token -> client ID
	jtis      map[string]bool
	dpopNonce string
	stats     testOPStats
}

// testOPOptions select the provider's features and its misbehaviour.
type testOPOptions struct {
	noPAR          bool   // advertise no PAR endpoint
	noDPoP         bool   // advertise no DPoP algorithms
	noIss          bool   // advertise and send no iss parameter
	omitIss        bool   // advertise iss but leave it out of responses
	issOverride    string // send this iss value
	discoveryIss   string // issuer member of the discovery document
	authError      string // respond to the authorization request with this error
	rotateNonce    bool   // change the DPoP nonce after each PAR request
	subject        string // sub of the ID token; "" means aliceDID
	handleClaim    string // handle claim; "" means the login_hint
	noHandleClaim  bool
	mutateIDToken  func(claims map[string]any)
	beforeRedirect func() // runs before the authorization response
	// endpointError makes the endpoint "register", "par" or "token"
	// return invalid_request.
	endpointError string
	// noEndSession advertises no end_session_endpoint, and
	// endSessionEndpoint advertises this URL instead of the OP's own.
	noEndSession       bool
	endSessionEndpoint string
	// ignorePostLogout leaves post_logout_redirect_uris out of
	// registrations, as a provider without RP-Initiated Logout does.
	ignorePostLogout bool
	// logoutState is the state the end_session_endpoint sends back
	// instead of the one it received.
	logoutState string
}

// testOPStats counts what the provider saw.
type testOPStats struct {
	registrations   int
	parRequests     int
	parWithDPoP     int
	tokenRequests   int
	tokenWithDPoP   int
	nonceRejections int
	loginHints      []string
	boundKeys       []string // DPoP key thumbprints of issued codes
	endSessions     []url.Values
}

type testClient struct {
	secret                 string
	redirectURI            string
	authMethod             string
	postLogoutRedirectURIs []string
}

// testGrant is an issued authorization code.
type testGrant struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	loginHint   string
	jkt         string // DPoP key thumbprint the code is bound to, "" when none
}

func startTestOP(tb testing.TB, opts testOPOptions) *testOP {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	op := &testOP{
		tb:        tb,
		srv:       srv,
		issuer:    "https://" + srv.Listener.Addr().String(),
		key:       key,
		opts:      opts,
		clients:   map[string]testClient{},
		requests:  map[string]url.Values{},
		codes:     map[string]*testGrant{},
		idTokens:  map[string]string{},
		jtis:      map[string]bool{},
		dpopNonce: randomToken(8),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.serveDiscovery)
	mux.HandleFunc("POST /register", op.serveRegister)
	mux.HandleFunc("POST /par", op.servePAR)
	mux.HandleFunc("GET /authorize", op.serveAuthorize)
	mux.HandleFunc("POST /token", op.serveToken)
	mux.HandleFunc("GET /jwks", op.serveJWKS)
	mux.HandleFunc("GET /end_session", op.serveEndSession)
	srv.Config.Handler = mux
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return op
}

func (op *testOP) snapshot() testOPStats {
	op.mu.Lock()
	defer op.mu.Unlock()
	s := op.stats
	s.loginHints = append([]string(nil), s.loginHints...)
	s.boundKeys = append([]string(nil), s.boundKeys...)
	s.endSessions = append([]url.Values(nil), s.endSessions...)
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthFail(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (op *testOP) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	issuer := op.issuer
	if op.opts.discoveryIss != "" {
		issuer = op.opts.discoveryIss
	}
	doc := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                op.issuer + "/authorize",
		"token_endpoint":                        op.issuer + "/token",
		"jwks_uri":                              op.issuer + "/jwks",
		"registration_endpoint":                 op.issuer + "/register",
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"require_pushed_authorization_requests": false,
	}
	if !op.opts.noPAR {
		doc["pushed_authorization_request_endpoint"] = op.issuer + "/par"
	}
	if !op.opts.noDPoP {
		doc["dpop_signing_alg_values_supported"] = []string{"ES256", "EdDSA"}
	}
	if !op.opts.noIss {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	switch {
	case op.opts.endSessionEndpoint != "":
		doc["end_session_endpoint"] = op.opts.endSessionEndpoint
	case !op.opts.noEndSession:
		doc["end_session_endpoint"] = op.issuer + "/end_session"
	}
	writeJSON(w, http.StatusOK, doc)
}

func (op *testOP) serveRegister(w http.ResponseWriter, r *http.Request) {
	if op.opts.endpointError == "register" {
		oauthFail(w, http.StatusBadRequest, "invalid_client_metadata", "registration is closed")
		return
	}
	var req struct {
		RedirectURIs           []string `json:"redirect_uris"`
		PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
		TokenAuthMethod        string   `json:"token_endpoint_auth_method"`
		ClientName             string   `json:"client_name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.RedirectURIs) != 1 || req.ClientName == "" {
		oauthFail(w, http.StatusBadRequest, "invalid_client_metadata", "expected one redirect URI and a client name")
		return
	}
	if req.TokenAuthMethod != authBasic {
		oauthFail(w, http.StatusBadRequest, "invalid_client_metadata", "only client_secret_basic is supported")
		return
	}
	if op.opts.ignorePostLogout {
		req.PostLogoutRedirectURIs = nil
	}
	id, secret := "client-"+randomToken(6), randomToken(16)
	op.mu.Lock()
	op.clients[id] = testClient{secret: secret, redirectURI: req.RedirectURIs[0], authMethod: authBasic, postLogoutRedirectURIs: req.PostLogoutRedirectURIs}
	op.stats.registrations++
	op.mu.Unlock()
	resp := map[string]any{
		"client_id":                  id,
		"client_secret":              secret,
		"client_secret_expires_at":   0,
		"redirect_uris":              req.RedirectURIs,
		"token_endpoint_auth_method": authBasic,
	}
	if req.PostLogoutRedirectURIs != nil {
		resp["post_logout_redirect_uris"] = req.PostLogoutRedirectURIs
	}
	writeJSON(w, http.StatusCreated, resp)
}

// authenticate checks HTTP Basic client authentication.
func (op *testOP) authenticate(r *http.Request) (string, testClient, bool) {
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return "", testClient{}, false
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil {
		return "", testClient{}, false
	}
	op.mu.Lock()
	c, found := op.clients[id]
	op.mu.Unlock()
	if !found || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		return "", testClient{}, false
	}
	return id, c, true
}

// checkDPoP validates the DPoP proof of r, when there is one, and returns
// the thumbprint of its key. A missing or stale nonce gets the
// use_dpop_nonce error with a fresh DPoP-Nonce header.
func (op *testOP) checkDPoP(w http.ResponseWriter, r *http.Request, target string) (jkt string, ok bool) {
	proof := r.Header.Get("DPoP")
	if proof == "" {
		return "", true
	}
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "proof does not parse")
		return "", false
	}
	header := jws.Signatures[0].Protected
	if header.ExtraHeaders[jose.HeaderType] != "dpop+jwt" || header.JSONWebKey == nil || !header.JSONWebKey.IsPublic() {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "typ must be dpop+jwt and jwk a public key")
		return "", false
	}
	payload, err := jws.Verify(header.JSONWebKey)
	if err != nil {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "signature does not verify")
		return "", false
	}
	var claims dpopClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "claims do not parse")
		return "", false
	}
	if claims.HTM != http.MethodPost || claims.HTU != target || claims.JTI == "" {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", fmt.Sprintf("htm %q htu %q do not match POST %s", claims.HTM, claims.HTU, target))
		return "", false
	}
	if age := time.Since(time.Unix(claims.IAT, 0)); age > time.Minute || age < -time.Minute {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "iat is not recent")
		return "", false
	}

	op.mu.Lock()
	defer op.mu.Unlock()
	if claims.Nonce != op.dpopNonce {
		op.stats.nonceRejections++
		w.Header().Set("DPoP-Nonce", op.dpopNonce)
		oauthFail(w, http.StatusBadRequest, "use_dpop_nonce", "use the server's DPoP nonce")
		return "", false
	}
	if op.jtis[claims.JTI] {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "jti replayed")
		return "", false
	}
	op.jtis[claims.JTI] = true
	thumb, err := header.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "no thumbprint")
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(thumb), true
}

// checkAuthorizationRequest applies the rules of a code flow request with
// PKCE S256 from the client id and returns what is wrong, "" when nothing.
func (op *testOP) checkAuthorizationRequest(id string, c testClient, q url.Values) string {
	switch {
	case q.Get("client_id") != id:
		return "client_id does not match the authenticated client"
	case q.Get("response_type") != "code":
		return "response_type must be code"
	case q.Get("redirect_uri") != c.redirectURI:
		return "redirect_uri is not registered"
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		return "PKCE S256 is required"
	case q.Get("state") == "" || q.Get("nonce") == "":
		return "state and nonce are required by this provider"
	}
	return ""
}

func (op *testOP) servePAR(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	op.stats.parRequests++
	op.mu.Unlock()

	id, c, ok := op.authenticate(r)
	if !ok {
		oauthFail(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if op.opts.endpointError == "par" {
		oauthFail(w, http.StatusBadRequest, "invalid_request", "pushed request rejected")
		return
	}
	jkt, ok := op.checkDPoP(w, r, op.issuer+"/par")
	if !ok {
		return
	}

	if err := r.ParseForm(); err != nil {
		oauthFail(w, http.StatusBadRequest, "invalid_request", "form does not parse")
		return
	}
	q := r.PostForm
	if msg := op.checkAuthorizationRequest(id, c, q); msg != "" {
		oauthFail(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	if jkt != "" {
		q.Set("dpop_jkt", jkt)
	}

	requestURI := "urn:ietf:params:oauth:request_uri:" + randomToken(12)
	op.mu.Lock()
	op.requests[requestURI] = q
	if jkt != "" {
		op.stats.parWithDPoP++
	}
	if op.opts.rotateNonce {
		op.dpopNonce = randomToken(8)
	}
	op.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": requestURI, "expires_in": 60})
}

func (op *testOP) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op.mu.Lock()
	if uri := q.Get("request_uri"); uri != "" {
		pushed, found := op.requests[uri]
		delete(op.requests, uri)
		if !found || pushed.Get("client_id") != q.Get("client_id") {
			op.mu.Unlock()
			http.Error(w, "unknown request_uri", http.StatusBadRequest)
			return
		}
		q = pushed
	} else if !op.opts.noPAR {
		op.mu.Unlock()
		http.Error(w, "this test provider expects PAR", http.StatusBadRequest)
		return
	}
	c, found := op.clients[q.Get("client_id")]
	op.mu.Unlock()
	if !found {
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	}
	if msg := op.checkAuthorizationRequest(q.Get("client_id"), c, q); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}

	if op.opts.beforeRedirect != nil {
		op.opts.beforeRedirect()
	}
	resp := url.Values{"state": {q.Get("state")}}
	switch {
	case op.opts.issOverride != "":
		resp.Set("iss", op.opts.issOverride)
	case !op.opts.noIss && !op.opts.omitIss:
		resp.Set("iss", op.issuer)
	}
	if op.opts.authError != "" {
		resp.Set("error", op.opts.authError)
		resp.Set("error_description", "The person declined\nthe request.")
	} else {
		code := randomToken(16)
		grant := &testGrant{
			clientID:    q.Get("client_id"),
			redirectURI: q.Get("redirect_uri"),
			challenge:   q.Get("code_challenge"),
			nonce:       q.Get("nonce"),
			loginHint:   q.Get("login_hint"),
			jkt:         q.Get("dpop_jkt"),
		}
		op.mu.Lock()
		op.codes[code] = grant
		op.stats.loginHints = append(op.stats.loginHints, grant.loginHint)
		op.stats.boundKeys = append(op.stats.boundKeys, grant.jkt)
		op.mu.Unlock()
		resp.Set("code", code)
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+resp.Encode(), http.StatusFound)
}

func (op *testOP) serveToken(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	op.stats.tokenRequests++
	op.mu.Unlock()
	id, _, ok := op.authenticate(r)
	if !ok {
		oauthFail(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if op.opts.endpointError == "token" {
		oauthFail(w, http.StatusBadRequest, "invalid_grant", "code rejected")
		return
	}
	jkt, ok := op.checkDPoP(w, r, op.issuer+"/token")
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		oauthFail(w, http.StatusBadRequest, "unsupported_grant_type", "authorization_code only")
		return
	}
	code := r.PostForm.Get("code")
	op.mu.Lock()
	grant := op.codes[code]
	delete(op.codes, code)
	if jkt != "" {
		op.stats.tokenWithDPoP++
	}
	op.mu.Unlock()

	switch {
	case grant == nil || grant.clientID != id:
		oauthFail(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
		return
	case r.PostForm.Get("redirect_uri") != grant.redirectURI:
		oauthFail(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs")
		return
	case s256(r.PostForm.Get("code_verifier")) != grant.challenge:
		oauthFail(w, http.StatusBadRequest, "invalid_grant", "PKCE verifier does not match")
		return
	case grant.jkt != "" && jkt != grant.jkt:
		oauthFail(w, http.StatusBadRequest, "invalid_dpop_proof", "the code is bound to another DPoP key")
		return
	}

	tokenType := "Bearer"
	if jkt != "" {
		tokenType = "DPoP"
	}
	idToken := op.idToken(id, grant)
	op.mu.Lock()
	op.idTokens[idToken] = id
	op.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": randomToken(16),
		"token_type":   tokenType,
		"expires_in":   300,
		"id_token":     idToken,
	})
}

// serveEndSession is the end_session_endpoint. It requires an ID token it
// issued as id_token_hint, the client_id of that token, and a registered
// post_logout_redirect_uri, to which it sends the browser with the state.
// Without a post_logout_redirect_uri it shows its own page.
func (op *testOP) serveEndSession(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op.mu.Lock()
	op.stats.endSessions = append(op.stats.endSessions, q)
	clientID, issued := op.idTokens[q.Get("id_token_hint")]
	c := op.clients[clientID]
	op.mu.Unlock()

	uri := q.Get("post_logout_redirect_uri")
	switch {
	case !issued:
		http.Error(w, "id_token_hint is not an ID token of this provider", http.StatusBadRequest)
	case q.Get("client_id") != clientID:
		http.Error(w, "client_id is not the client of the id_token_hint", http.StatusBadRequest)
	case uri == "":
		fmt.Fprint(w, "signed out at the test provider")
	case !slices.Contains(c.postLogoutRedirectURIs, uri):
		http.Error(w, "post_logout_redirect_uri is not registered", http.StatusBadRequest)
	default:
		state := q.Get("state")
		if op.opts.logoutState != "" {
			state = op.opts.logoutState
		}
		http.Redirect(w, r, uri+"?"+url.Values{"state": {state}}.Encode(), http.StatusFound)
	}
}

// idToken signs the ID token of a grant.
func (op *testOP) idToken(clientID string, grant *testGrant) string {
	now := time.Now()
	claims := map[string]any{
		"iss":   op.issuer,
		"sub":   aliceDID,
		"aud":   clientID,
		"exp":   now.Add(5 * time.Minute).Unix(),
		"iat":   now.Unix(),
		"nonce": grant.nonce,
	}
	if op.opts.subject != "" {
		claims["sub"] = op.opts.subject
	}

	if !op.opts.noHandleClaim {
		claims["handle"] = grant.loginHint
		claims["preferred_username"] = grant.loginHint
		if op.opts.handleClaim != "" {
			claims["handle"] = op.opts.handleClaim
		}
	}
	if op.opts.mutateIDToken != nil {
		op.opts.mutateIDToken(claims)
	}

	payload, err := json.Marshal(claims)
	if err != nil {
		op.tb.Error(err)
		return ""
	}

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: op.key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		op.tb.Error(err)
		return ""
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		op.tb.Error(err)
		return ""
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		op.tb.Error(err)
	}
	return token
}

func (op *testOP) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	writeJSON(w, http.StatusOK, set)
}

// testOPWorld starts a test provider and an RP that registers there
// dynamically, and publishes alice.dhp.test for the provider.
func testOPWorld(tb testing.TB, opts testOPOptions, mod func(*Config)) (*world, *rp, *testOP) {
	tb.Helper()
	op := startTestOP(tb, opts)
	w := newWorld(tb, []string{
		txt("alice.dhp.test", "did="+aliceDID, "oauth="+op.issuer),
	}, nil)
	r := newRP(tb, w, tlsClient(op.srv), mod)
	return w, r, op
}

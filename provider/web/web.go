package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dnshandle/dnshandle/internal/ratelimit"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/store"
	"github.com/dnshandle/dnshandle/records"
	"github.com/dnshandle/dnshandle/verify"
)

// Defaults of Config fields left zero.
const (
	DefaultSessionLifetime = 12 * time.Hour
	DefaultIdleTimeout     = 30 * time.Minute

	// DefaultAccountBurst and DefaultAccountInterval limit password
	// sign-in attempts per account name: 10 at once, then one every
	// minute.
	DefaultAccountBurst    = 10
	DefaultAccountInterval = time.Minute

	// DefaultClientBurst and DefaultClientInterval limit password sign-in,
	// sign-up and certificate sign-in attempts per client address (IPv6
	// clients by /64 prefix): 30 at once, then one every 5 seconds.
	DefaultClientBurst    = 30
	DefaultClientInterval = 5 * time.Second
)

// SessionKeySize is the length in bytes of Config.SessionKey.
const SessionKeySize = 32

// Provider is the set of provider operations the pages call. The
// provider's *provider.Service implements it. Methods are called
// concurrently from many requests, after the pages checked that the
// signed-in account owns the identity h.
type Provider interface {
	// CreateAccount stores a new account with an argon2id hash of the
	// password. The error wraps store.ErrConflict when the name is taken.
	CreateAccount(ctx context.Context, name, password string) (*store.Account, error)

	// CreateHandle creates the identity h for the account with the
	// provider's default options: its CSC, its DID, and for a handle
	// directly under a provider zone its published records. The error
	// wraps store.ErrConflict when the handle is taken.
	CreateHandle(ctx context.Context, accountName string, h handle.Handle) (*store.Identity, error)

	// CloseAccount deletes the account with all its identities, and
	// returns what the person must still do for handles under her own
	// domains. The error wraps store.ErrNotFound when there is no such
	// account.
	CloseAccount(ctx context.Context, name string) ([]string, error)

	// DeleteHandle deletes the identity h of the account with its
	// records, CSC, devices and grants, and frees the handle. It returns
	// what the person must still do, "" for a hosted handle. The error
	// wraps store.ErrNotFound when the account has no identity h.
	DeleteHandle(ctx context.Context, accountName string, h handle.Handle) (string, error)

	// HandleRecords returns the records the handle h publishes: exactly
	// what the owner of an own domain must publish.
	HandleRecords(ctx context.Context, h handle.Handle) (records.HandleRecords, error)

	// CheckIdentity resolves the own-domain handle h, marks it verified
	// when its records are right, and returns the problems found, none
	// when it is verified.
	CheckIdentity(ctx context.Context, h handle.Handle) ([]string, error)

	// NewEnrollment mints a one-time enrollment code for a device of h
	// with the label. The error is an *acme.LabelError for a bad label.
	NewEnrollment(ctx context.Context, h handle.Handle, label string) (*acme.Enrollment, error)

	// Devices returns the devices of h, oldest first.
	Devices(ctx context.Context, h handle.Handle) ([]*store.Device, error)

	// IssueDevice signs a device certificate for the key of csr with the
	// CSC of h, records it as a device of h with the label, and returns
	// the chain [device certificate, CSC].
	IssueDevice(ctx context.Context, h handle.Handle, label string, csr *x509.CertificateRequest) ([]*x509.Certificate, error)

	// RevokeDevice revokes the device of h whose certificate has the
	// serial (lowercase hex). The error wraps store.ErrNotFound when h has
	// no such device and store.ErrConflict when it is revoked already.
	RevokeDevice(ctx context.Context, h handle.Handle, serial string, reason pki.RevocationReason) error

	// TouchDevice records that the device with the serial was just used
	// to sign in.
	TouchDevice(ctx context.Context, serial string) error
}

// RateLimit is a token bucket: Burst attempts at once, then one more per
// Interval. A zero field means the default of the limit it configures.
type RateLimit struct {
	Burst    int
	Interval time.Duration
}

// Config configures the pages. Provider and Store are required; every
// other zero field means the default stated on it.
type Config struct {
	// Provider carries out the changes.
	Provider Provider

	// Store is read for accounts, identities and devices. It also keeps
	// the IDs of signed-out sessions, so that every process on the same
	// store rejects a signed-out cookie.
	Store store.Store

	// SessionKey is the SessionKeySize-byte secret that seals session
	// cookies. Nil means a random key made by New, so sessions end when
	// the process stops and one replica does not accept another's cookies.
	// Give every replica the same key to share sessions: LoadSessionKey
	// keeps one in the store.
	SessionKey []byte

	// Verifier checks the device certificate chains presented to POST
	// /signin/certificate. Nil turns certificate sign-in off.
	Verifier *verify.Verifier

	// Zones are the provider zones under which people may create hosted
	// handles, such as "dhp.example.com". A trailing dot is ignored.
	Zones []string

	// ACMEDirectoryURL is the provider's ACME directory, shown on the
	// device pages for ACME clients such as lego and certbot. Empty shows
	// none.
	ACMEDirectoryURL string

	// CAFile is the path of the PEM file of the CA that issued the HTTPS
	// listener's certificate, when devices do not trust that CA already,
	// as with the self-signed loopback certificate of dnshandle serve. The
	// enrollment page then adds --ca CAFile to its command, with a note to
	// copy the file to the device. Empty adds nothing.
	CAFile string

	// Logger receives failed requests and sign-in events. Nil discards
	// them.
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// SessionLifetime is the longest a session lasts after sign-in. Zero
	// means DefaultSessionLifetime.
	SessionLifetime time.Duration

	// IdleTimeout ends a session after this long without a request.
	// Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration

	// AccountLimit limits password sign-in attempts per account name.
	// Zero fields mean DefaultAccountBurst and DefaultAccountInterval.
	AccountLimit RateLimit

	// ClientLimit limits attempts to sign in or sign up per client
	// address. Zero fields mean DefaultClientBurst and
	// DefaultClientInterval.
	ClientLimit RateLimit
}

// ConfigError reports a Config that New cannot use.
type ConfigError struct {
	// Field is the Config field at fault.
	Field string
	// Reason describes what is wrong and what to set.
	Reason string
}

// Error returns a message that names the field.
func (e *ConfigError) Error() string {
	return "web config: " + e.Field + ": " + e.Reason
}

// Web serves the pages and keeps the sessions. Its methods are safe for
// concurrent use.
type Web struct {
	cfg        Config
	zones      []string
	aead       cipher.AEAD
	perAccount *ratelimit.Limiter
	perClient  *ratelimit.Limiter
	origins    *http.CrossOriginProtection
	pages      map[string]*template.Template
	// dummyHash is checked against the password typed for an unknown
	// account, so that the response takes as long as for a known one.
	dummyHash string
	mux       *http.ServeMux
}

// New checks cfg and builds the pages. It hashes one random password with
// argon2id to have a hash for unknown accounts, which takes about as long
// as one sign-in. Errors are *ConfigError values, or a failure to read
// random bytes or parse the embedded templates.
func New(cfg Config) (*Web, error) {
	if err := fillDefaults(&cfg); err != nil {
		return nil, err
	}
	w := &Web{
		cfg:        cfg,
		perAccount: newLimiter(cfg.AccountLimit),
		perClient:  newLimiter(cfg.ClientLimit),
		origins:    http.NewCrossOriginProtection(),
	}
	for _, z := range cfg.Zones {
		w.zones = append(w.zones, strings.TrimSuffix(strings.ToLower(z), "."))
	}

	var err error
	if w.aead, err = sessionAEAD(cfg.SessionKey); err != nil {
		return nil, err
	}
	if w.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if w.dummyHash, err = store.HashPassword(rand.Text()); err != nil {
		return nil, err
	}
	w.mux = w.routes()
	return w, nil
}

func fillDefaults(cfg *Config) error {
	if cfg.Provider == nil {
		return &ConfigError{Field: "Provider", Reason: "missing: give the provider service"}
	}
	if cfg.Store == nil {
		return &ConfigError{Field: "Store", Reason: "missing: give the provider's store"}
	}
	if cfg.SessionKey == nil {
		cfg.SessionKey = make([]byte, SessionKeySize)
		if _, err := rand.Read(cfg.SessionKey); err != nil {
			return fmt.Errorf("web config: make a session key: %w", err)
		}
	}
	if len(cfg.SessionKey) != SessionKeySize {
		return &ConfigError{Field: "SessionKey", Reason: fmt.Sprintf("has %d bytes, want %d random bytes", len(cfg.SessionKey), SessionKeySize)}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	fillLimit(&cfg.AccountLimit, DefaultAccountBurst, DefaultAccountInterval)
	fillLimit(&cfg.ClientLimit, DefaultClientBurst, DefaultClientInterval)
	return nil
}

func fillLimit(l *RateLimit, burst int, interval time.Duration) {
	if l.Burst <= 0 {
		l.Burst = burst
	}
	if l.Interval <= 0 {
		l.Interval = interval
	}
}

// sessionAEAD derives the AES-256-GCM key of session cookies from the
// configured secret with HKDF-SHA256 (RFC 5869), so that the secret is
// never used directly as a cipher key.
func sessionAEAD(secret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, "dnshandle web session cookie v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the session cookie key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session cookie cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// Handler returns the handler of every page, the style sheet
// /static/style.css, and a "page not found" page for other paths. Mount it
// at "/" beside /acme/ and the OpenID provider's paths.
func (w *Web) Handler() http.Handler {
	return w.mux
}

func (w *Web) now() time.Time { return w.cfg.Now() }

// routes registers every page. POST handlers check the CSRF token first.
func (w *Web) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/style.css", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(rw, r, staticFS, "style.css")
	})

	mux.HandleFunc("GET /signup", w.signUpPage)
	mux.HandleFunc("POST /signup", w.post(w.signUp))
	mux.HandleFunc("GET /signin", w.signInPage)
	mux.HandleFunc("POST /signin", w.post(w.signIn))
	mux.HandleFunc("POST /signin/certificate", w.post(w.signInCertificate))
	mux.HandleFunc("POST /signout", w.post(w.signOut))

	mux.HandleFunc("GET /{$}", w.signedIn(w.home))
	mux.HandleFunc("GET /identities/new", w.signedIn(w.newIdentityPage))
	mux.HandleFunc("POST /identities", w.signedIn(w.post(w.createIdentity)))
	mux.HandleFunc("GET /identities/{handle}", w.signedIn(w.identityPage))
	mux.HandleFunc("POST /identities/{handle}/check", w.signedIn(w.post(w.checkIdentity)))
	mux.HandleFunc("GET /account/delete", w.signedIn(w.closeAccountPage))
	mux.HandleFunc("POST /account/delete", w.signedIn(w.post(w.closeAccount)))
	mux.HandleFunc("GET /identities/{handle}/delete", w.signedIn(w.deleteIdentityPage))
	mux.HandleFunc("POST /identities/{handle}/delete", w.signedIn(w.post(w.deleteIdentity)))

	mux.HandleFunc("GET /devices/{handle}", w.signedIn(w.devicesPage))
	mux.HandleFunc("POST /devices/{handle}/enroll", w.signedIn(w.post(w.enroll)))
	mux.HandleFunc("GET /devices/{handle}/revoke", w.signedIn(w.revokePage))
	mux.HandleFunc("POST /devices/{handle}/revoke", w.signedIn(w.post(w.revoke)))
	mux.HandleFunc("POST /devices/{handle}/browser", w.signedIn(w.post(w.browserCertificate)))

	mux.HandleFunc("/", w.notFound)
	return mux
}

// maxFormBytes bounds the body of a POST form.
const maxFormBytes = 64 << 10

// post wraps a POST handler: it bounds the body, parses the form and
// checks the CSRF token. When the check fails it writes a 403 page.
func (w *Web) post(next http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(rw, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			w.renderError(rw, r, http.StatusBadRequest, "The form could not be read",
				"The request did not carry a form this site can read, or the form was larger than 64 KiB.",
				"Go back, reload the page and submit the form again.")
			return
		}
		if err := w.CheckCSRF(r); err != nil {
			w.cfg.Logger.InfoContext(r.Context(), "form rejected by the CSRF check", "remote_addr", r.RemoteAddr, "err", err)
			w.renderError(rw, r, http.StatusForbidden, "The form has expired",
				"This form did not come from a page of this site, or it is older than your current sign-in.",
				"Go back, reload the page and submit the form again.")
			return
		}
		next(rw, r)
	}
}

// signedIn wraps a handler that needs a session: without one it redirects
// to the sign-in page, which returns to this page afterwards. It renews
// the session cookie (see KeepSession).
func (w *Web) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		s, acct, ok := w.currentSession(r)
		if !ok {
			target := "/"
			if r.Method == http.MethodGet {
				target = r.URL.RequestURI()
			}
			http.Redirect(rw, r, w.SignInURL(target), http.StatusSeeOther)
			return
		}
		w.renew(rw, s)
		next(rw, withSession(r, s, acct))
	}
}

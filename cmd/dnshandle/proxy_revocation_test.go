package main

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/internal/dnstest"
	"github.com/dnshandle/dnshandle/pki"
	"github.com/dnshandle/dnshandle/records"
)

// crlWorld is the handle carol.dhp.test in a signed zone on loopback,
// with a laptop and a revoked phone whose certificates name an HTTPS CRL
// distribution point with a private CA.
type crlWorld struct {
	*testWorld
	dpCAFile string
	// crlFile holds the CRL that the distribution point serves, in DER.
	crlFile string
	// laptop and phone are device directories in the layout of
	// dnshandle device enroll.
	laptop, phone string
}

func newCRLWorld(t *testing.T) *crlWorld {
	t.Helper()
	h := handle.Handle("carol.dhp.test")
	csc, err := pki.NewCSC(rand.Reader, h, pki.CSCOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var crl atomic.Pointer[[]byte]
	dp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		der := crl.Load()
		if der == nil {
			http.Error(w, "no CRL yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(*der)
	}))
	t.Cleanup(dp.Close)
	crlURL := dp.URL + "/acme/crl/carol"

	dir := t.TempDir()
	cw := &crlWorld{dpCAFile: filepath.Join(dir, "dp-ca.pem"), laptop: filepath.Join(dir, "laptop"), phone: filepath.Join(dir, "phone")}
	if err := os.WriteFile(cw.dpCAFile, pki.EncodeCertificates(dp.Certificate()), 0o644); err != nil {
		t.Fatal(err)
	}
	installCRLDevice(t, cw.laptop, csc, "laptop", crlURL)
	phoneLeaf := installCRLDevice(t, cw.phone, csc, "phone", crlURL)
	now := time.Now()
	der, err := pki.CreateCRL(rand.Reader, csc, []pki.RevokedCert{{Serial: phoneLeaf.SerialNumber, RevokedAt: now, Reason: pki.ReasonKeyCompromise}},
		big.NewInt(1), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crl.Store(&der)
	cw.crlFile = filepath.Join(dir, "carol.crl")
	if err := os.WriteFile(cw.crlFile, der, 0o644); err != nil {
		t.Fatal(err)
	}

	set := records.HandleRecords{Handle: h, TTL: 300, TLSA: []records.TLSA{records.CSCRecord(csc.Certificate)}, DID: csc.DID.String()}
	root := dnstest.MustZone(t, ".")
	tld := dnstest.MustZone(t, "test.")
	dhp := dnstest.MustZone(t, "dhp.test.", set.ZoneText())
	if err := dnstest.SignChain(dnstest.SignOptions{}, root, tld, dhp); err != nil {
		t.Fatal(err)
	}
	cw.testWorld = &testWorld{server: dnstest.Start(t, root, tld, dhp), anchorFile: filepath.Join(dir, "anchor.ds"), did: csc.DID.String()}
	if err := dnstest.WriteAnchorFile(cw.anchorFile, root); err != nil {
		t.Fatal(err)
	}
	return cw
}

// installCRLDevice issues a device certificate of csc with the CRL URL
// and installs it as the only device of a new base directory dir.
func installCRLDevice(t *testing.T, dir string, csc *pki.CSC, label, crlURL string) *x509.Certificate {
	t.Helper()
	key, err := pki.NewDeviceKey(pki.KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := pki.CreateCSR(rand.Reader, key, csc.Handle)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.IssueDevice(rand.Reader, csc, csr, pki.DeviceOptions{Label: label, CRLURL: crlURL})
	if err != nil {
		t.Fatal(err)
	}

	files := t.TempDir()
	chainFile, keyFile := filepath.Join(files, "chain.pem"), filepath.Join(files, "key.pem")
	if err := os.WriteFile(chainFile, pki.EncodeCertificates(leaf, csc.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePrivateKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	installDevice(t, dir, csc.Handle, chainFile, keyFile)
	return leaf
}

func TestProxyCommandRevocation(t *testing.T) {
	w := newCRLWorld(t)

	t.Run("revoked device rejected", func(t *testing.T) {
		proxyURL, caFile := startProxyCommand(t, w.testWorld, "--provider-ca", w.dpCAFile)
		page := proxyURL + "/page"

		out, err := runCommand(t, "get", page, "--dir", w.laptop, "--ca", caFile, "--handle", "@carol.dhp.test")
		if err != nil {
			t.Fatalf("laptop, not on the CRL: %v\n%s", err, out)
		}
		if !strings.Contains(out, "signed in as @carol.dhp.test\n") {
			t.Errorf("laptop output:\n%s", out)
		}

		out, err = runCommand(t, "get", page, "--dir", w.phone, "--ca", caFile, "--handle", "@carol.dhp.test")
		if err == nil {
			t.Fatalf("the revoked phone got the page:\n%s", out)
		}
		for _, want := range []string{"403 Forbidden", "failed the revocation check", "revoked this certificate"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})

	t.Run("former name of provider-ca", func(t *testing.T) {
		proxyURL, caFile := startProxyCommand(t, w.testWorld, "--oidc-ca", w.dpCAFile)
		out, err := runCommand(t, "get", proxyURL+"/page", "--dir", w.laptop, "--ca", caFile, "--handle", "@carol.dhp.test")
		if err != nil || !strings.Contains(out, "signed in as @carol.dhp.test\n") {
			t.Errorf("laptop with --oidc-ca = %v, want the page\n%s", err, out)
		}
	})

	t.Run("CRL files without fetching", func(t *testing.T) {
		// Without --provider-ca a fetch would fail, so the laptop passing
		// shows that the file alone was checked.
		proxyURL, caFile := startProxyCommand(t, w.testWorld, "--crl", w.crlFile)
		out, err := runCommand(t, "get", proxyURL+"/page", "--dir", w.phone, "--ca", caFile, "--handle", "@carol.dhp.test")
		if err == nil || !strings.Contains(err.Error(), "failed the revocation check") {
			t.Errorf("revoked phone with --crl = %v, want a revocation failure\n%s", err, out)
		}
		out, err = runCommand(t, "get", proxyURL+"/page", "--dir", w.laptop, "--ca", caFile, "--handle", "@carol.dhp.test")
		if err != nil {
			t.Errorf("laptop with --crl: %v\n%s", err, out)
		}
	})

	t.Run("distribution point CA not given", func(t *testing.T) {
		proxyURL, caFile := startProxyCommand(t, w.testWorld)
		out, err := runCommand(t, "get", proxyURL+"/page", "--dir", w.laptop, "--ca", caFile, "--handle", "@carol.dhp.test")
		if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") {
			t.Fatalf("get with an untrusted distribution point = %v, want 503\n%s", err, out)
		}
		if !strings.Contains(out, "could not fetch the revocation list") {
			t.Errorf("output lacks the reason:\n%s", out)
		}
	})

	t.Run("revocation off", func(t *testing.T) {
		proxyURL, caFile := startProxyCommand(t, w.testWorld, "--revocation", "off")
		out, err := runCommand(t, "get", proxyURL+"/page", "--dir", w.phone, "--ca", caFile, "--handle", "@carol.dhp.test")
		if err != nil || !strings.Contains(out, "signed in as @carol.dhp.test\n") {
			t.Errorf("revoked phone with --revocation off = %v, want the page\n%s", err, out)
		}
	})
}

func TestLogCRLFetchFailureHintsAtProviderCA(t *testing.T) {
	dp := httptest.NewTLSServer(http.NotFoundHandler())
	defer dp.Close()
	// A client with the system roots alone does not trust the test server.
	resp, fetchErr := (&http.Client{Timeout: 10 * time.Second}).Get(dp.URL + "/crl")
	if fetchErr == nil {
		resp.Body.Close()
		t.Fatal("the test server's certificate is trusted, so the test cannot run")
	}

	tests := []struct {
		name string
		err  error
		hint bool
	}{
		{"unknown authority", fetchErr, true},
		{"other failure", errors.New("connection refused"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			logCRLFetchFailure(slog.New(slog.NewTextHandler(&logs, nil)))(dp.URL+"/crl", tc.err)
			if got := strings.Contains(logs.String(), "--provider-ca"); got != tc.hint {
				t.Errorf("log mentions --provider-ca: %v, want %v:\n%s", got, tc.hint, logs.String())
			}
			for _, want := range []string{"CRL fetch failed", dp.URL + "/crl"} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
		})
	}
}

// dnshandle verify fetches the CRL of the leaf's distribution point, as
// the proxy does.
func TestVerifyCommandFetchesCRL(t *testing.T) {
	w := newCRLWorld(t)
	chain := func(dir string) string { return filepath.Join(dir, "carol.dhp.test", client.ChainFile) }
	args := func(dir string, extra ...string) []string {
		return append([]string{"verify", "--chain", chain(dir), "--server", w.server.Addr, "--trust-anchor", w.anchorFile}, extra...)
	}

	out, err := runCommand(t, args(w.phone, "--provider-ca", w.dpCAFile)...)
	if err == nil || !strings.Contains(out, "FAIL  revocation") {
		t.Errorf("verify of the revoked phone = %v, want a revocation failure:\n%s", err, out)
	}
	out, err = runCommand(t, args(w.laptop, "--provider-ca", w.dpCAFile)...)
	if err != nil || !strings.Contains(out, "pass  revocation") {
		t.Errorf("verify of the laptop = %v, want revocation passed:\n%s", err, out)
	}
	out, err = runCommand(t, args(w.phone, "--revocation", "off")...)
	if err != nil || !strings.Contains(out, "skip  revocation not checked (--revocation off)") {
		t.Errorf("verify --revocation off = %v:\n%s", err, out)
	}
	if _, err := runCommand(t, args(w.phone, "--revocation", "off", "--crl", w.crlFile)...); err == nil || !strings.Contains(err.Error(), "--crl applies to --revocation files, not off") {
		t.Errorf("verify --revocation off --crl = %v, want the flags refused", err)
	}
	out, err = runCommand(t, args(w.phone, "--crl", w.crlFile)...)
	if err == nil || !strings.Contains(out, "FAIL  revocation") {
		t.Errorf("verify --crl of the revoked phone = %v:\n%s", err, out)
	}
	out, err = runCommand(t, args(w.phone)...)
	if err == nil || !strings.Contains(out, "FAIL  revocation") || !strings.Contains(err.Error(), "give the provider's CA with --provider-ca") {
		t.Errorf("verify without --provider-ca = %v, want a fetch failure that names --provider-ca:\n%s", err, out)
	}
}

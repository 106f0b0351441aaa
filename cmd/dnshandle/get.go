package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dnshandle/dnshandle/client"
	"github.com/dnshandle/dnshandle/handle"
)

// maxRefusalText bounds how much of a 401 or 403 body the error shows.
const maxRefusalText = 2048

func newGetCommand() *cobra.Command {
	var (
		flags     deviceFlags
		handleArg string
		include   bool
		req       requestFlags
	)
	cmd := &cobra.Command{
		Use:   "get URL",
		Short: "Fetch an https URL, logging in with the device certificate of the handle chosen for that site",
		Long: `Fetch URL and print the response body: with GET, or with the method of -X,
and with -d as the request body (POST unless -X says otherwise). The
request presents the device certificate of the handle chosen for the URL's
site (its origin, scheme://host:port). The first visit of a site asks which
enrolled handle it may see, on a terminal, and keeps the answer in
sites.json in the device directory; --handle chooses (or changes) it
without asking.

A 401 or 403 answer is an error that shows the server's explanation.`,
		Example: `  dnshandle get https://127.0.0.1:8444/ --ca ~/.config/dnshandle/proxy/tls/ca.pem
  dnshandle get -i --handle @alice.dhp.test https://rp.example/api/me
  dnshandle get -d @note.json -H 'Content-Type: application/json' https://rp.example/api/notes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			origin, err := client.ParseOrigin(args[0])
			if err != nil {
				return err
			}
			base, err := flags.baseDir()
			if err != nil {
				return err
			}
			h, err := chooseHandle(cmd, base, origin, handleArg)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), flags.timeout)
			defer cancel()
			httpReq, err := req.build(ctx, cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			return fetch(cmd.OutOrStdout(), &flags, base, httpReq, h, include)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&flags.dir, "dir", "", "directory of this device's keys, certificates and site choices (default: dnshandle/devices under the user configuration directory)")
	fl.StringVar(&flags.caFile, "ca", "", "PEM file of a CA to trust for the server's certificate, in addition to the system roots")
	fl.DurationVar(&flags.timeout, "timeout", 30*time.Second, "give up when the request takes longer")
	cmd.Flags().StringVar(&handleArg, "handle", "", "handle to show to this site; it is stored as the site's choice")
	cmd.Flags().BoolVarP(&include, "include", "i", false, "print the status line and the response headers before the body")
	cmd.Flags().StringVarP(&req.method, "request", "X", "", "HTTP method (default GET, or POST with --data)")
	cmd.Flags().StringVarP(&req.data, "data", "d", "", "request body: the text itself, @FILE for a file's content, or @- for standard input (Content-Type application/x-www-form-urlencoded unless -H gives one)")
	cmd.Flags().StringArrayVarP(&req.headers, "header", "H", nil, "request header \"Name: value\" (repeatable)")
	return cmd
}

// chooseHandle returns the handle for origin: --handle (stored as the new
// choice), the stored choice, or the person's pick on a terminal.
func chooseHandle(cmd *cobra.Command, base, origin, handleArg string) (handle.Handle, error) {
	sites, err := client.LoadSites(base)
	if err != nil {
		return "", err
	}
	enrolled, err := client.EnrolledHandles(base)
	if err != nil && len(enrolled) == 0 {
		return "", err
	}

	if handleArg != "" {
		h, err := handle.ParseInput(handleArg)
		if err != nil {
			return "", err
		}
		if !slices.Contains(enrolled, h) {
			reason := "no device is enrolled for it in " + base + ": see dnshandle device list"
			if d, err := client.Load(filepath.Join(base, string(h))); err == nil && !d.Revoked.IsZero() {
				reason = "its device in " + d.Dir + " was revoked: enroll this device again with a new enrollment code, which replaces it"
			}
			return "", &client.ChoiceError{Origin: origin, Handle: h, Reason: reason}
		}
		if previous, ok := sites.Get(origin); !ok || previous != h {
			if err := sites.Set(origin, h); err != nil {
				return "", err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s will see %s from now on (kept in %s)\n", origin, h.Display(), sites.Path())
		}
		return h, nil
	}

	if h, ok := sites.Get(origin); ok && !slices.Contains(enrolled, h) {
		if d, err := client.Load(client.DeviceDir(base, h)); err == nil && !d.Revoked.IsZero() {
			return "", fmt.Errorf("the device certificate of %s for %s was revoked on %s: enroll this device again with a new enrollment code, or choose another handle with --handle",
				h.Display(), origin, d.Revoked.UTC().Format(time.RFC3339))
		}
	}

	if len(enrolled) == 0 {
		if devices, _ := client.List(base); len(devices) > 0 {
			return "", fmt.Errorf("every device in %s is revoked: enroll this device again with a new enrollment code (dnshandle device enroll --code ...), which replaces the revoked one", base)
		}
	}

	var ask client.Asker
	if tty, ok := terminal(cmd.InOrStdin()); ok {
		ask = askHandle(tty, cmd.ErrOrStderr(), sites.Path())
	}
	return sites.Choose(origin, enrolled, ask)
}

// requestFlags are the options of get that shape the request.
type requestFlags struct {
	method  string
	data    string
	headers []string
}

// build returns the request for rawURL that the flags describe, reading
// the body from a file or from stdin for @FILE and @-.
func (f *requestFlags) build(ctx context.Context, stdin io.Reader, rawURL string) (*http.Request, error) {
	method := strings.ToUpper(f.method)
	if method == "" {
		method = http.MethodGet
		if f.data != "" {
			method = http.MethodPost
		}
	}
	if !validMethod(method) {
		return nil, fmt.Errorf("invalid -X %q: give an HTTP method such as GET, POST, PUT or DELETE", f.method)
	}

	var body io.Reader
	switch {
	case f.data == "@-":
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read the request body from standard input: %w", err)
		}
		body = strings.NewReader(string(data))
	case strings.HasPrefix(f.data, "@"):
		data, err := os.ReadFile(f.data[1:])
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w", f.data, err)
		}
		body = strings.NewReader(string(data))
	case f.data != "":
		body = strings.NewReader(f.data)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, err
	}

	for _, line := range f.headers {
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("invalid --header %q: write it as \"Name: value\"", line)
		}
		req.Header.Add(name, strings.TrimSpace(value))
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, nil
}

// validMethod reports whether m is an HTTP method: a token of letters,
// digits and the punctuation that tokens allow (RFC 9110, sections 9.1
// and 5.6.2).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// fetch sends req with the site's certificate and prints the response.
func fetch(out io.Writer, flags *deviceFlags, base string, req *http.Request, h handle.Handle, include bool) error {
	roots, err := rootsWithCA(flags.caFile)
	if err != nil {
		return err
	}
	sites, err := client.LoadSites(base)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	sent := map[string]*x509.Certificate{}
	dialer := &client.SiteDialer{Dir: base, Sites: sites, Base: &tls.Config{RootCAs: roots},
		Presented: func(origin string, leaf *x509.Certificate) {
			mu.Lock()
			defer mu.Unlock()
			sent[origin] = leaf
		}}
	httpClient := &http.Client{Transport: &http.Transport{DialTLSContext: dialer.DialTLSContext}}
	defer httpClient.CloseIdleConnections()

	resp, err := httpClient.Do(req)
	if err != nil {
		return explainFetchError(err, h)
	}
	defer resp.Body.Close()

	if include {
		fmt.Fprintf(out, "%s %s\n", resp.Proto, resp.Status)
		if err := resp.Header.Write(out); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalText))
		origin, _ := client.ParseOrigin(resp.Request.URL.String())
		mu.Lock()
		leaf, requested := sent[origin]
		mu.Unlock()
		return refusalError(resp, strings.TrimSpace(string(text)), h, leaf, requested)
	}

	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("read the response body: %w", err)
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s returned %s", resp.Request.URL, resp.Status)
	}
	return nil
}

// refusalError describes a 401 or 403 response with the server's text and
// what the client sent.
func refusalError(resp *http.Response, text string, h handle.Handle, leaf *x509.Certificate, requested bool) error {
	var sentWhat string
	switch {
	case !requested:
		sentWhat = "the server did not request a client certificate"
	case leaf == nil:
		sentWhat = "no certificate was sent: the server's certificate request does not accept the device certificate of " + h.Display()
	default:
		sentWhat = "the device certificate of " + h.Display() + " was sent"
	}
	msg := fmt.Sprintf("%s refused the request with %s (%s)", resp.Request.URL, resp.Status, sentWhat)
	if text != "" {
		msg += ":\n" + text
	}
	return errors.New(msg)
}

// explainFetchError adds advice to a failed request, in particular when
// the server rejected the certificate during the handshake.
func explainFetchError(err error, h handle.Handle) error {
	// crypto/tls reports a received alert only as text, such as "remote
	// error: tls: bad certificate".
	if msg := err.Error(); strings.Contains(msg, "remote error: tls:") && strings.Contains(msg, "certificate") {
		return fmt.Errorf("the server rejected the device certificate of %s during the TLS handshake (%w): check it with dnshandle verify --connect", h.Display(), err)
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("%w: the server's certificate is not trusted; give its CA with --ca", err)
	}
	return err
}

// rootsWithCA returns the system roots plus the certificates in caFile,
// or nil (the system roots) when caFile is empty.
func rootsWithCA(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--ca %s: no PEM certificate found", caFile)
	}
	return roots, nil
}

package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dnshandle/dnshandle/handle"
)

// SitesFile is the file in the base directory that stores which handle this
// device shows to each site, mode 0600. It is JSON:
//
//	{"version": 1, "sites": {"https://rp.example": "alice.dhp.example"}}
//
// Each key is an origin as ParseOrigin writes it, each value a handle in
// its normal form (lowercase, A-labels, no "@").
const SitesFile = "sites.json"

// sitesVersion is the version of the SitesFile format.
const sitesVersion = 1

// maxSitesFileSize bounds the size of SitesFile that LoadSites reads, 1 MiB.
const maxSitesFileSize = 1 << 20

// sitesDocument is the content of SitesFile.
type sitesDocument struct {
	Version int               `json:"version"`
	Sites   map[string]string `json:"sites"`
}

// OriginError reports a URL that does not name an HTTPS origin.
type OriginError struct {
	// URL is the input as given.
	URL string
	// Reason describes what is wrong and what to give instead.
	Reason string
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("invalid site %q: %s", e.URL, e.Reason)
}

// ParseOrigin returns the origin of an https URL, serialized as in RFC 6454,
// section 6.2: "https://" + host + ":" + port, with the host in lowercase
// (IPv6 addresses in brackets) and the port left out when it is 443. Path,
// query and fragment are dropped. Other schemes are rejected, because TLS
// client certificates exist only over https. Errors are *OriginError.
func ParseOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", &OriginError{URL: raw, Reason: "not a URL: " + err.Error()}
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return "", &OriginError{URL: raw, Reason: "the scheme must be https, for example https://rp.example"}
	}
	if u.User != nil {
		return "", &OriginError{URL: raw, Reason: "user information is not allowed in a site URL"}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return "", &OriginError{URL: raw, Reason: "the host is missing"}
	}
	port := u.Port()
	if port == "" && strings.HasSuffix(u.Host, ":") {
		return "", &OriginError{URL: raw, Reason: "the port after ':' is empty"}
	}
	return originOf(raw, host, port)
}

// originOf serializes an https origin from its host and port ("" means
// 443).
func originOf(raw, host, port string) (string, error) {
	if !validHostBytes(host) {
		return "", &OriginError{URL: raw, Reason: fmt.Sprintf("host %q must be printable ASCII: write an internationalized name in its xn-- form", host)}
	}
	if strings.ContainsAny(host, "/?#@[]%\\") {
		return "", &OriginError{URL: raw, Reason: fmt.Sprintf("host %q is not a DNS name or IP address", host)}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "", &OriginError{URL: raw, Reason: fmt.Sprintf("port %q is not a number from 1 to 65535", port)}
		}
		if n == 443 {
			port = ""
		}
	}
	if strings.Contains(host, ":") {
		ip := net.ParseIP(host)
		if ip == nil {
			return "", &OriginError{URL: raw, Reason: fmt.Sprintf("host %q is not a valid IPv6 address", host)}
		}
		host = "[" + ip.String() + "]"
	}
	if port == "" {
		return "https://" + host, nil
	}
	return "https://" + host + ":" + port, nil
}

// validHostBytes accepts printable ASCII only, so an origin is always one
// token in a policy file or a log line.
func validHostBytes(host string) bool {
	for i := 0; i < len(host); i++ {
		if host[i] <= ' ' || host[i] >= 0x7f {
			return false
		}
	}
	return true
}

// originOfAddr returns the origin of a TLS connection to addr, "host:port".
func originOfAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", &OriginError{URL: addr, Reason: err.Error()}
	}
	return originOf(addr, strings.ToLower(strings.TrimSuffix(host, ".")), port)
}

// SitesError reports a SitesFile that cannot be read, parsed or written.
type SitesError struct {
	// Path is the file, "" when parsing bytes that came from elsewhere.
	Path string
	// Reason describes what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *SitesError) Error() string {
	msg := "site choices"
	if e.Path != "" {
		msg += " in " + e.Path
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SitesError) Unwrap() error { return e.Err }

// ParseSites parses the content of a SitesFile and returns its origin to
// handle map. It rejects a version other than 1, an origin that is not in
// the form ParseOrigin returns, and a handle that is not in its normal
// form, so that the file has one spelling for each site and handle.
// Errors are *SitesError.
func ParseSites(data []byte) (map[string]handle.Handle, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc sitesDocument
	if err := dec.Decode(&doc); err != nil {
		return nil, &SitesError{Reason: "not a valid JSON object", Err: err}
	}
	if dec.More() {
		return nil, &SitesError{Reason: "data follows the JSON object"}
	}
	if doc.Version != sitesVersion {
		return nil, &SitesError{Reason: fmt.Sprintf("version %d is not supported; this program reads version %d", doc.Version, sitesVersion)}
	}

	choices := make(map[string]handle.Handle, len(doc.Sites))
	for origin, value := range doc.Sites {
		canonical, err := ParseOrigin(origin)
		if err != nil {
			return nil, &SitesError{Reason: "invalid origin", Err: err}
		}
		if canonical != origin {
			return nil, &SitesError{Reason: fmt.Sprintf("origin %q is not in normal form: write %q", origin, canonical)}
		}
		h, err := handle.Parse(value)
		if err != nil {
			return nil, &SitesError{Reason: fmt.Sprintf("invalid handle for %s", origin), Err: err}
		}
		if string(h) != value {
			return nil, &SitesError{Reason: fmt.Sprintf("handle %q for %s is not in normal form: write %q", value, origin, h)}
		}
		choices[origin] = h
	}
	return choices, nil
}

// SiteChoice is the handle chosen for one origin.
type SiteChoice struct {
	// Origin is the site, as ParseOrigin writes it.
	Origin string
	// Handle is the handle this device shows to the site.
	Handle handle.Handle
}

// Sites is the per-site choice of handle of one device, stored in SitesFile
// under the base directory. A person who holds several identities picks,
// once per site, which handle the site gets. The device then presents only
// that handle's certificate there. Its methods are safe for concurrent
// use. Two processes that change the file at the same time race: the
// last write wins.
type Sites struct {
	path string

	mu      sync.Mutex
	choices map[string]handle.Handle
}

// LoadSites reads SitesFile from the base directory dir. A missing file
// means no choices yet. Errors are *SitesError.
func LoadSites(dir string) (*Sites, error) {
	path := filepath.Join(dir, SitesFile)
	s := &Sites{path: path, choices: map[string]handle.Handle{}}

	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, &SitesError{Path: path, Reason: "cannot open", Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSitesFileSize+1))
	if err != nil {
		return nil, &SitesError{Path: path, Reason: "cannot read", Err: err}
	}
	if len(data) > maxSitesFileSize {
		return nil, &SitesError{Path: path, Reason: fmt.Sprintf("larger than %d bytes", maxSitesFileSize)}
	}

	choices, err := ParseSites(data)
	if err != nil {
		var se *SitesError
		if errors.As(err, &se) {
			se.Path = path
		}
		return nil, err
	}
	s.choices = choices
	return s, nil
}

// Path returns the file the choices are stored in.
func (s *Sites) Path() string { return s.path }

// Get returns the handle chosen for origin, which must be in the form
// ParseOrigin returns.
func (s *Sites) Get(origin string) (handle.Handle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.choices[origin]
	return h, ok
}

// List returns all choices sorted by origin.
func (s *Sites) List() []SiteChoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]SiteChoice, 0, len(s.choices))
	for origin, h := range s.choices {
		list = append(list, SiteChoice{Origin: origin, Handle: h})
	}
	slices.SortFunc(list, func(a, b SiteChoice) int { return strings.Compare(a.Origin, b.Origin) })
	return list
}

// Set stores h as the choice for origin and writes the file. origin must
// be in the form ParseOrigin returns and h in its normal form. Errors are
// *OriginError, *SitesError or the error of handle.Parse.
func (s *Sites) Set(origin string, h handle.Handle) error {
	if canonical, err := ParseOrigin(origin); err != nil {
		return err
	} else if canonical != origin {
		return &OriginError{URL: origin, Reason: fmt.Sprintf("not in normal form: use %q", canonical)}
	}
	if parsed, err := handle.Parse(string(h)); err != nil {
		return err
	} else if parsed != h {
		return &SitesError{Path: s.path, Reason: fmt.Sprintf("handle %q is not in normal form: use %q", h, parsed)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	previous, had := s.choices[origin]
	s.choices[origin] = h
	if err := s.save(); err != nil {
		if had {
			s.choices[origin] = previous
		} else {
			delete(s.choices, origin)
		}
		return err
	}
	return nil
}

// Forget removes the choice for origin and writes the file, so the person
// is asked again at the next visit. Removing an origin without a choice is not an error.
func (s *Sites) Forget(origin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	previous, had := s.choices[origin]
	if !had {
		return nil
	}
	delete(s.choices, origin)
	if err := s.save(); err != nil {
		s.choices[origin] = previous
		return err
	}
	return nil
}

// save writes the file through a temporary file. The caller holds mu.
func (s *Sites) save() error {
	data, err := encodeSites(s.choices)
	if err != nil {
		return &SitesError{Path: s.path, Reason: "cannot encode", Err: err}
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return &SitesError{Path: s.path, Reason: "cannot create the directory", Err: err}
	}
	if err := writeFileAtomic(s.path, data, 0o600); err != nil {
		return &SitesError{Path: s.path, Reason: "cannot write", Err: err}
	}
	return nil
}

// encodeSites returns the content of SitesFile for choices, indented, with
// a trailing newline.
func encodeSites(choices map[string]handle.Handle) ([]byte, error) {
	doc := sitesDocument{Version: sitesVersion, Sites: make(map[string]string, len(choices))}
	for origin, h := range choices {
		doc.Sites[origin] = string(h)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

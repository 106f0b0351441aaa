package client

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ChromiumPolicyDir is the directory of the managed policy files (*.json)
// of Chromium on Linux. Google Chrome reads /etc/opt/chrome/policies/managed instead.
const ChromiumPolicyDir = "/etc/chromium/policies/managed"

// certificateFilter is one entry of Chromium's AutoSelectCertificateForUrls
// policy. Chromium compares the filter with the leaf certificate's own
// issuer and subject only.
type certificateFilter struct {
	Pattern string `json:"pattern"`
	Filter  struct {
		Issuer struct {
			CN string `json:"CN"`
		} `json:"ISSUER"`
	} `json:"filter"`
}

// ChromiumPolicy returns a Chromium managed policy document that makes the
// browser present, at each chosen origin, the device certificate of the
// chosen handle without showing a certificate picker:
//
//	{
//	  "AutoSelectCertificateForUrls": [
//	    "{\"pattern\":\"https://rp.example\",\"filter\":{\"ISSUER\":{\"CN\":\"alice.dhp.example\"}}}"
//	  ]
//	}
//
// Each entry is a JSON object encoded as a string, as the policy requires.
// The filter names the issuer of the device certificate, which is the CSC
// whose subject is CN=<handle>, so it selects the certificate of that
// handle and never one of another identity. Entries follow the order of
// choices; Sites.List sorts them by origin. Without an entry for a site
// that requests a certificate, Chromium shows a picker, and a headless
// Chromium waits for it indefinitely.
func ChromiumPolicy(choices []SiteChoice) ([]byte, error) {
	entries := make([]string, 0, len(choices))
	for _, c := range choices {
		var f certificateFilter
		f.Pattern = c.Origin
		f.Filter.Issuer.CN = string(c.Handle)
		entry, err := marshalNoEscape(f, "")
		if err != nil {
			return nil, fmt.Errorf("encode the policy entry of %s: %w", c.Origin, err)
		}
		entries = append(entries, string(entry))
	}

	doc := struct {
		AutoSelectCertificateForUrls []string
	}{entries}
	return marshalNoEscape(doc, "  ")
}

// marshalNoEscape encodes v as JSON without HTML escaping, indented with
// indent unless it is empty, with a trailing newline only when indented.
func marshalNoEscape(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if indent == "" {
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	return buf.Bytes(), nil
}

package web

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/pki"
)

// Password rules. MinPasswordLength matches the minimum of the provider's
// CreateAccount.
const (
	MinPasswordLength       = 12
	MinPKCS12PasswordLength = 8
	maxPasswordBytes        = 1024
	maxAccountNameLength    = 64
)

// fieldErrors maps a form field name to the message shown next to it.
// The key "" holds a message about the form as a whole.
type fieldErrors map[string]string

// normalizeAccountName trims white space and lowercases, the form in which
// the pages store and look up account names.
func normalizeAccountName(raw string) string {
	return strings.ToLower(strings.TrimSpace(raw))
}

// accountNameProblem returns what is wrong with a new account name, or ""
// when it is valid: 1 to 64 characters from [a-z0-9._-], starting with a
// letter or digit.
func accountNameProblem(name string) string {
	const rule = "Use 1 to 64 characters: lowercase letters, digits, dots, hyphens or underscores, starting with a letter or digit."
	if name == "" {
		return "Enter an account name."
	}
	if len(name) > maxAccountNameLength {
		return "This name is too long. " + rule
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '-' && c != '_') {
			return rule
		}
	}
	return ""
}

// passwordProblem returns what is wrong with a new password of at least
// minLength characters, or "" when it is acceptable.
func passwordProblem(password string, minLength int) string {
	switch {
	case password == "":
		return "Enter a password."
	case !utf8.ValidString(password):
		return "The password is not valid text. Type it again."
	case len(password) > maxPasswordBytes:
		return fmt.Sprintf("The password is longer than %d bytes. Choose a shorter one.", maxPasswordBytes)
	case utf8.RuneCountInString(password) < minLength:
		return fmt.Sprintf("Use at least %d characters.", minLength)
	}
	return ""
}

// labelProblem applies the device label rules of pki.DeviceOptions.Label
// and returns what is wrong, or "" when label is valid.
func labelProblem(label string) string {
	rule := fmt.Sprintf("Use 1 to %d characters without control characters, such as laptop or phone.", pki.MaxLabelLength)
	if label == "" {
		return "Enter a device label. " + rule
	}
	if !utf8.ValidString(label) || utf8.RuneCountInString(label) > pki.MaxLabelLength {
		return rule
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return rule
		}
	}
	return ""
}

// signUpForm is the parsed form of POST /signup. Next is "" unless the
// form carried a valid local path.
type signUpForm struct {
	Name, Password, Next string
}

func parseSignUp(v url.Values) (signUpForm, fieldErrors) {
	f := signUpForm{Name: normalizeAccountName(v.Get("name")), Password: v.Get("password")}
	f.Next, _ = localPath(v.Get("next"))
	errs := fieldErrors{}
	if p := accountNameProblem(f.Name); p != "" {
		errs["name"] = p
	}
	if p := passwordProblem(f.Password, MinPasswordLength); p != "" {
		errs["password"] = p
	} else if v.Get("password_repeat") != f.Password {
		errs["password_repeat"] = "The two passwords differ. Type the same password twice."
	}
	return f, errs
}

// signInForm is the parsed form of POST /signin. Next is "" unless the
// form carried a valid local path.
type signInForm struct {
	Name, Password, Next string
}

func parseSignIn(v url.Values) (signInForm, fieldErrors) {
	f := signInForm{Name: normalizeAccountName(v.Get("name")), Password: v.Get("password")}
	f.Next, _ = localPath(v.Get("next"))
	errs := fieldErrors{}
	if f.Name == "" {
		errs["name"] = "Enter your account name."
	}
	if f.Password == "" {
		errs["password"] = "Enter your password."
	}
	return f, errs
}

// Kinds of identity in the identity form.
const (
	kindHosted = "hosted"
	kindOwn    = "own"
)

// parseIdentity reads the identity form: a name under one of zones
// (kindHosted), or a handle under the person's own domain (kindOwn), which
// must not lie in or under a provider zone.
func parseIdentity(v url.Values, zones []string) (handle.Handle, fieldErrors) {
	errs := fieldErrors{}
	switch v.Get("kind") {
	case kindHosted:
		return parseHostedHandle(v, zones, errs)
	case kindOwn:
		h, err := handle.ParseInput(v.Get("handle"))
		if err != nil {
			errs["handle"] = "This is not a valid handle: " + err.Error()
			return "", errs
		}
		if zone := zoneOf(h, zones); zone != "" {
			errs["handle"] = fmt.Sprintf("%s lies in the provider zone %s, where you cannot publish records. Choose a hosted handle instead.", h, zone)
			return "", errs
		}
		return h, errs
	default:
		errs["kind"] = "Choose a hosted handle or a handle under your own domain."
		return "", errs
	}
}

func parseHostedHandle(v url.Values, zones []string, errs fieldErrors) (handle.Handle, fieldErrors) {
	name := strings.ToLower(strings.TrimSpace(v.Get("name")))
	zone := v.Get("zone")
	known := false
	for _, z := range zones {
		known = known || z == zone
	}
	if !known {
		errs["zone"] = "Choose one of the listed zones."
	}
	if name == "" || strings.ContainsAny(name, ".@") {
		errs["name"] = "Enter one name without dots or @, such as alice."
	}
	if len(errs) > 0 {
		return "", errs
	}
	h, err := handle.ParseInput(name + "." + zone)
	if err != nil {
		errs["name"] = "This name cannot be a handle: " + err.Error()
		return "", errs
	}
	return h, errs
}

// zoneOf returns the zone of zones that equals h or contains it, or "".
func zoneOf(h handle.Handle, zones []string) string {
	s := h.String()
	for _, z := range zones {
		if s == z || strings.HasSuffix(s, "."+z) {
			return z
		}
	}
	return ""
}

// browserForm is the parsed form of POST /devices/{handle}/browser.
type browserForm struct {
	Label, Password string
}

func parseBrowser(v url.Values) (browserForm, fieldErrors) {
	f := browserForm{Label: strings.TrimSpace(v.Get("browser_label")), Password: v.Get("password")}
	errs := fieldErrors{}
	if p := labelProblem(f.Label); p != "" {
		errs["browser_label"] = p
	}
	if p := passwordProblem(f.Password, MinPKCS12PasswordLength); p != "" {
		errs["password"] = p
	} else if v.Get("password_repeat") != f.Password {
		errs["password_repeat"] = "The two passwords differ. Type the same password twice."
	}
	return f, errs
}

// revokeForm is the parsed form of POST /devices/{handle}/revoke.
type revokeForm struct {
	Serial    string
	Reason    pki.RevocationReason
	Confirmed bool
}

// revocationReasons are the CRLReason codes a person may choose (RFC 5280,
// section 5.3.1), in the order the form lists them.
var revocationReasons = []pki.RevocationReason{
	pki.ReasonUnspecified, pki.ReasonKeyCompromise, pki.ReasonSuperseded, pki.ReasonCessationOfOperation,
}

func parseRevoke(v url.Values) (revokeForm, fieldErrors) {
	f := revokeForm{Serial: strings.ToLower(strings.TrimSpace(v.Get("serial"))), Confirmed: v.Get("confirm") == "yes"}
	errs := fieldErrors{}
	if !validSerial(f.Serial) {
		errs["serial"] = "The device serial is missing or not hexadecimal. Go back to the device list and choose the device again."
	}
	reason := v.Get("reason")
	found := reason == ""
	for _, r := range revocationReasons {
		if reason == r.String() {
			f.Reason, found = r, true
		}
	}
	if !found {
		errs["reason"] = "Choose one of the listed reasons."
	}
	return f, errs
}

// validSerial reports whether s is a certificate serial in lowercase hex
// as the store keeps it: 1 to 40 digits (RFC 5280, section 4.1.2.2 allows
// at most 20 octets).
func validSerial(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

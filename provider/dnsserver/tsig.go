package dnsserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/miekg/dns"
)

// minTSIGSecret is the shortest TSIG secret, in bytes, that NewServer
// accepts; shorter secrets can be guessed.
const minTSIGSecret = 16

// tsigFudge is the allowed clock difference, in seconds, written into the
// TSIG records this server makes: 300, the value RFC 8945 recommends.
const tsigFudge = 300

// tsigKeys holds the HMAC-SHA256 secrets by canonical key name and
// implements dns.TsigProvider for the listeners and the NOTIFY client.
type tsigKeys map[string][]byte

func parseTSIGKeys(cfg map[string]string) (tsigKeys, error) {
	keys := make(tsigKeys, len(cfg))
	for name, secret := range cfg {
		if _, ok := dns.IsDomainName(name); !ok || name == "" {
			return nil, &ConfigError{Field: "TSIG", Value: name, Reason: "key name is not a valid domain name"}
		}
		raw, err := base64.StdEncoding.DecodeString(secret)
		if err != nil {
			return nil, &ConfigError{Field: "TSIG", Value: name, Reason: "secret is not valid base64"}
		}
		if len(raw) < minTSIGSecret {
			return nil, &ConfigError{Field: "TSIG", Value: name, Reason: "secret is shorter than 16 bytes: generate one with `openssl rand -base64 32`"}
		}
		keys[dns.CanonicalName(name)] = raw
	}
	return keys, nil
}

// Generate implements dns.TsigProvider with HMAC-SHA256 only.
func (k tsigKeys) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	secret, err := k.secret(t)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(msg)
	return mac.Sum(nil), nil
}

// Verify implements dns.TsigProvider; it compares MACs in constant time.
func (k tsigKeys) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return dns.ErrSig
	}
	if !hmac.Equal(want, got) {
		return dns.ErrSig
	}
	return nil
}

func (k tsigKeys) secret(t *dns.TSIG) ([]byte, error) {
	if dns.CanonicalName(t.Algorithm) != dns.HmacSHA256 {
		return nil, dns.ErrKeyAlg
	}
	secret, ok := k[dns.CanonicalName(t.Hdr.Name)]
	if !ok {
		return nil, dns.ErrSecret
	}
	return secret, nil
}

// tsigErrorCode maps a failed TSIG check to the TSIG error of RFC 8945,
// section 5.2: an unknown key or algorithm is BADKEY, a wrong MAC BADSIG
// and a time outside the fudge BADTIME.
func tsigErrorCode(err error) uint16 {
	switch {
	case errors.Is(err, dns.ErrTime):
		return dns.RcodeBadTime
	case errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		return dns.RcodeBadKey
	default:
		return dns.RcodeBadSig
	}
}

// addTSIGError sets resp to NOTAUTH with a TSIG record that carries code,
// for a request whose TSIG did not verify. A BADTIME response is signed
// and reports the server time in Other Data (RFC 8945, section 5.2.3);
// BADKEY and BADSIG responses go unsigned because the key cannot be
// trusted.
func addTSIGError(resp *dns.Msg, req *dns.TSIG, code uint16, now time.Time) {
	resp.Rcode = dns.RcodeNotAuth
	t := &dns.TSIG{
		Hdr:        dns.RR_Header{Name: req.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm:  req.Algorithm,
		TimeSigned: req.TimeSigned,
		Fudge:      req.Fudge,
		OrigId:     resp.Id,
		Error:      code,
	}
	if code == dns.RcodeBadTime {
		var other [8]byte
		binary.BigEndian.PutUint64(other[:], uint64(now.Unix()))
		t.OtherData = hex.EncodeToString(other[2:])
		t.OtherLen = 6
	}
	resp.Extra = append(resp.Extra, t)
}

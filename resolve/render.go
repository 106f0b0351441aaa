package resolve

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Render formats the outcome of Resolve for people: the handle, each RRset
// with its DNSSEC status, TTL and records, then the lines of Diagnose under
// "problems:", and for a usable result (err is nil) the lines of Notes
// under "notes:". res may be nil.
func Render(res *Result, err error) string {
	var b strings.Builder
	if res != nil {
		fmt.Fprintf(&b, "handle  %s\n", res.Handle.Display())

		var tlsa []string
		for _, t := range res.TLSA {
			tlsa = append(tlsa, t.String())
		}
		renderRRset(&b, res.TLSAInfo, tlsa)

		var attrs []string
		if res.ATProto.DID != "" {
			attrs = append(attrs, "did="+res.ATProto.DID)
		}
		if res.ATProto.OAuth != "" {
			attrs = append(attrs, "oauth="+res.ATProto.OAuth)
		}
		renderRRset(&b, res.ATProtoInfo, attrs)

		if res.FromCache {
			b.WriteString("answered from the cache\n")
		}
	}
	if problems := Diagnose(res, err); len(problems) > 0 {
		b.WriteString("problems:\n")
		for _, p := range problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	}
	if notes := usableNotes(res, err); len(notes) > 0 {
		b.WriteString("notes:\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	return b.String()
}

// usableNotes returns Notes(res) for a usable result, and nil when Resolve
// returned an error, because a note that an RRset was accepted would
// contradict the error.
func usableNotes(res *Result, err error) []string {
	if err != nil {
		return nil
	}
	return Notes(res)
}

// renderRRset writes one RRset: a header line with name, status and TTL,
// the data lines, and the reason for the status.
func renderRRset(b *strings.Builder, info RRsetInfo, data []string) {
	if info.Name == "" {
		return
	}
	fmt.Fprintf(b, "%-7s %s  ", dns.TypeToString[info.Type], info.Name)
	if info.Server == "" {
		b.WriteString("no answer\n")
		return
	}
	b.WriteString(info.Status.String())
	switch {
	case info.NXDomain:
		b.WriteString(", NXDOMAIN")
	case info.NoData:
		b.WriteString(", no records")
	}
	fmt.Fprintf(b, ", ttl %ds", info.TTL)
	if info.Stale {
		b.WriteString(", stale")
	}
	if len(info.CNAMEs) > 0 {
		fmt.Fprintf(b, ", via CNAME %s", strings.Join(info.CNAMEs, " -> "))
	}
	fmt.Fprintf(b, ", from %s\n", info.Server)
	for _, d := range data {
		fmt.Fprintf(b, "          %s\n", d)
	}
	if info.Reason != "" {
		fmt.Fprintf(b, "        DNSSEC: %s\n", info.Reason)
	}
}

// View is the JSON form of a Resolve outcome, with stable lowercase field
// names, for command-line --json output and logs. Notes is empty when the
// outcome has an error.
type View struct {
	Handle       string     `json:"handle"`
	TLSA         []TLSAView `json:"tlsa"`
	TLSARRset    RRsetView  `json:"tlsa_rrset"`
	DID          string     `json:"did,omitempty"`
	OAuth        string     `json:"oauth,omitempty"`
	ATProtoRRset RRsetView  `json:"atproto_rrset"`
	ATProtoError string     `json:"atproto_error,omitempty"`
	FromCache    bool       `json:"from_cache"`
	Stale        bool       `json:"stale"`
	Error        string     `json:"error,omitempty"`
	Problems     []string   `json:"problems,omitempty"`
	Notes        []string   `json:"notes,omitempty"`
}

// TLSAView is one TLSA record in a View.
type TLSAView struct {
	Usage        uint8  `json:"usage"`
	Selector     uint8  `json:"selector"`
	MatchingType uint8  `json:"matching_type"`
	Data         string `json:"data"`   // lowercase hex
	Record       string `json:"record"` // presentation form "2 1 1 <hex>"
}

// RRsetView is an RRsetInfo in a View. Type and Rcode are mnemonics
// ("TLSA", "NXDOMAIN") and Status is a lowercase word ("secure").
type RRsetView struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Rcode    string   `json:"rcode,omitempty"`
	NoData   bool     `json:"nodata"`
	NXDomain bool     `json:"nxdomain"`
	TTL      uint32   `json:"ttl"`
	Status   string   `json:"status"`
	Reason   string   `json:"reason,omitempty"`
	CNAMEs   []string `json:"cnames,omitempty"`
	Server   string   `json:"server,omitempty"`
	Stale    bool     `json:"stale"`
}

// NewView builds the JSON view of a Resolve outcome. res may be nil.
func NewView(res *Result, err error) View {
	v := View{Problems: Diagnose(res, err), Notes: usableNotes(res, err), TLSA: []TLSAView{}}
	if err != nil {
		v.Error = err.Error()
	}
	if res == nil {
		return v
	}
	v.Handle = string(res.Handle)
	for _, t := range res.TLSA {
		v.TLSA = append(v.TLSA, TLSAView{Usage: uint8(t.Usage), Selector: uint8(t.Selector),
			MatchingType: uint8(t.MatchingType), Data: hex.EncodeToString(t.Data), Record: t.String()})
	}
	v.TLSARRset = newRRsetView(res.TLSAInfo)
	v.DID, v.OAuth = res.ATProto.DID, res.ATProto.OAuth
	v.ATProtoRRset = newRRsetView(res.ATProtoInfo)
	if res.ATProtoErr != nil {
		v.ATProtoError = res.ATProtoErr.Error()
	}
	v.FromCache, v.Stale = res.FromCache, res.Stale
	return v
}

func newRRsetView(info RRsetInfo) RRsetView {
	v := RRsetView{Name: info.Name, Type: dns.TypeToString[info.Type], NoData: info.NoData, NXDomain: info.NXDomain,
		TTL: info.TTL, Status: info.Status.String(), Reason: info.Reason, CNAMEs: info.CNAMEs, Server: info.Server, Stale: info.Stale}
	if info.Server != "" {
		v.Rcode = dns.RcodeToString[info.Rcode]
	}
	return v
}

package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnshandle/dnshandle/handle"
)

// Snapshot file identification. ReadSnapshot rejects other formats and
// versions.
const (
	SnapshotFormat  = "dnshandle-resolve-snapshot"
	SnapshotVersion = 1
	// MaxSnapshotSize bounds the bytes ReadSnapshot reads, in bytes.
	MaxSnapshotSize = 64 << 20
	snapshotServer  = "snapshot"
)

// Snapshot is a recorded set of DNS responses: the TLSA and _atproto TXT
// answers of some handles, with their RRSIGs and denial proofs, and every
// DNSKEY and DS response the validator fetched for them. A Resolver built on
// a Snapshot (Config.Snapshot or NewOffline) answers only from it. It is
// safe for concurrent use and never changes after ReadSnapshot.
type Snapshot struct {
	Created  time.Time       // when the snapshot was taken, by the writer's clock
	Handles  []handle.Handle // the handles it was taken for
	messages map[snapshotKey]*dns.Msg
}

type snapshotKey struct {
	name  string // lowercase, absolute
	qtype uint16
}

// snapshotFile is the JSON form. Wire holds each response in DNS wire
// format (encoding/json writes it as base64); Records is the presentation
// form of its answer and authority sections, for people and ignored on
// reading.
type snapshotFile struct {
	Format   string            `json:"format"`
	Version  int               `json:"version"`
	Created  time.Time         `json:"created"`
	Handles  []string          `json:"handles"`
	Messages []snapshotMessage `json:"messages"`
}

type snapshotMessage struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Wire    []byte   `json:"wire"`
	Records []string `json:"records,omitempty"`
}

// SnapshotError reports an unreadable snapshot file.
type SnapshotError struct {
	Message int // 1-based index in "messages", 0 for the file as a whole
	Reason  string
}

// Error describes the problem and where it is.
func (e *SnapshotError) Error() string {
	if e.Message == 0 {
		return "invalid resolver snapshot: " + e.Reason
	}
	return fmt.Sprintf("invalid resolver snapshot: message %d: %s", e.Message, e.Reason)
}

// ReadSnapshot parses a snapshot written by WriteSnapshot. Errors are
// *SnapshotError, including for files larger than MaxSnapshotSize.
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSnapshotSize+1))
	if err != nil {
		return nil, fmt.Errorf("read resolver snapshot: %w", err)
	}
	if len(data) > MaxSnapshotSize {
		return nil, &SnapshotError{Reason: fmt.Sprintf("larger than %d bytes", MaxSnapshotSize)}
	}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, &SnapshotError{Reason: "not JSON: " + err.Error()}
	}
	if f.Format != SnapshotFormat || f.Version != SnapshotVersion {
		return nil, &SnapshotError{Reason: fmt.Sprintf("format %q version %d, expected %q version %d",
			f.Format, f.Version, SnapshotFormat, SnapshotVersion)}
	}

	s := &Snapshot{Created: f.Created, messages: make(map[snapshotKey]*dns.Msg, len(f.Messages))}
	for _, name := range f.Handles {
		h, err := handle.ParseSyntax(name)
		if err != nil {
			return nil, &SnapshotError{Reason: "handles: " + err.Error()}
		}
		s.Handles = append(s.Handles, h)
	}
	for i, m := range f.Messages {
		key, msg, reason := decodeSnapshotMessage(m)
		if reason != "" {
			return nil, &SnapshotError{Message: i + 1, Reason: reason}
		}
		s.messages[key] = msg
	}
	return s, nil
}

func decodeSnapshotMessage(m snapshotMessage) (snapshotKey, *dns.Msg, string) {
	qtype, ok := dns.StringToType[m.Type]
	if !ok {
		return snapshotKey{}, nil, fmt.Sprintf("unknown type %q", m.Type)
	}
	if _, ok := dns.IsDomainName(m.Name); !ok || !dns.IsFqdn(m.Name) {
		return snapshotKey{}, nil, fmt.Sprintf("name %q is not an absolute domain name", m.Name)
	}
	msg := new(dns.Msg)
	if err := msg.Unpack(m.Wire); err != nil {
		return snapshotKey{}, nil, "wire data does not unpack: " + err.Error()
	}
	if len(msg.Question) != 1 || !strings.EqualFold(msg.Question[0].Name, m.Name) || msg.Question[0].Qtype != qtype {
		return snapshotKey{}, nil, fmt.Sprintf("response does not answer %s %s", m.Name, m.Type)
	}
	return snapshotKey{strings.ToLower(m.Name), qtype}, msg, ""
}

// exchange returns a copy of the recorded response to (qname, qtype).
func (s *Snapshot) exchange(ctx context.Context, qname string, qtype uint16) (*dns.Msg, *upstream, error) {
	up := &upstream{name: snapshotServer}
	if err := ctx.Err(); err != nil {
		return nil, nil, classify(ctx, nil, err, qname, qtype, snapshotServer)
	}
	msg, ok := s.messages[snapshotKey{strings.ToLower(qname), qtype}]
	if !ok {
		return nil, nil, &LookupError{Name: qname, Type: qtype, Server: snapshotServer, Kind: KindOffline, Rcode: -1}
	}
	if lerr := rcodeError(msg, qname, qtype, up); lerr != nil {
		return nil, nil, lerr
	}
	return msg.Copy(), up, nil
}

// NewOffline returns a Resolver that answers only from the snapshot read
// from r, validating with cfg.TrustAnchors at cfg.Now. Without trust anchors
// every status is indeterminate, because the AD bits in a file prove
// nothing. Errors are *SnapshotError or *ConfigError.
func NewOffline(cfg Config, r io.Reader) (*Resolver, error) {
	s, err := ReadSnapshot(r)
	if err != nil {
		return nil, err
	}
	cfg.Snapshot = s
	return New(cfg)
}

// recorder passes queries to src and keeps every response.
type recorder struct {
	src  source
	mu   sync.Mutex
	msgs map[snapshotKey]*dns.Msg
}

func (rec *recorder) exchange(ctx context.Context, qname string, qtype uint16) (*dns.Msg, *upstream, error) {
	resp, up, err := rec.src.exchange(ctx, qname, qtype)
	if err == nil {
		rec.mu.Lock()
		rec.msgs[snapshotKey{strings.ToLower(qname), qtype}] = resp.Copy()
		rec.mu.Unlock()
	}
	return resp, up, err
}

// WriteSnapshot looks up the TLSA and _atproto TXT RRsets of each handle,
// bypassing the cache, and writes every response it received to w as a
// snapshot file (JSON, format SnapshotFormat version SnapshotVersion). The
// DNSKEY and DS responses of validation are recorded too when trust anchors
// are configured, using a new validator so none come from its cache.
// Snapshots of an offline Resolver copy from its snapshot.
//
// Policy errors do not stop the snapshot: an insecure or bogus RRset is
// recorded as it is. A *LookupError for any handle does, because the file
// would miss answers.
func (r *Resolver) WriteSnapshot(ctx context.Context, w io.Writer, handles []handle.Handle) error {
	rec := &recorder{src: r.env.src, msgs: map[snapshotKey]*dns.Msg{}}
	e := env{src: rec, validator: r.newValidator(rec)}

	f := snapshotFile{Format: SnapshotFormat, Version: SnapshotVersion, Created: r.now().UTC()}
	for _, h := range handles {
		f.Handles = append(f.Handles, string(h))
		for _, qtype := range []uint16{dns.TypeTLSA, dns.TypeTXT} {
			lctx, cancel := context.WithTimeout(ctx, r.timeout)
			_, err := r.lookup(lctx, e, ownerName(h, qtype), qtype)
			cancel()
			if err != nil && !isPolicyError(err) {
				return fmt.Errorf("snapshot of %s: %w", h, err)
			}
		}
	}

	keys := make([]snapshotKey, 0, len(rec.msgs))
	for k := range rec.msgs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return keys[i].qtype < keys[j].qtype
	})
	for _, k := range keys {
		m, err := snapshotMessageOf(k, rec.msgs[k])
		if err != nil {
			return err
		}
		f.Messages = append(f.Messages, m)
	}

	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&f); err != nil {
		return fmt.Errorf("write resolver snapshot: %w", err)
	}
	return nil
}

func snapshotMessageOf(k snapshotKey, msg *dns.Msg) (snapshotMessage, error) {
	wire, err := msg.Pack()
	if err != nil {
		return snapshotMessage{}, fmt.Errorf("snapshot: pack response for %s %s: %w", k.name, dns.TypeToString[k.qtype], err)
	}
	m := snapshotMessage{Name: k.name, Type: dns.TypeToString[k.qtype], Wire: wire}
	for _, rr := range append(append([]dns.RR(nil), msg.Answer...), msg.Ns...) {
		m.Records = append(m.Records, rr.String())
	}
	return m, nil
}

func isPolicyError(err error) bool {
	var insecure *InsecureError
	var bogus *BogusError
	return errors.As(err, &insecure) || errors.As(err, &bogus)
}

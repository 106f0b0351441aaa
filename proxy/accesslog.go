package proxy

import (
	"log/slog"
	"net/http"
	"time"
)

// statusRecorder keeps the status and size of a response for the access
// log. Unwrap lets http.ResponseController reach the Flusher and Hijacker
// of the connection, which ReverseProxy uses for streaming and upgrades.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Flush forwards to the connection's Flusher, so the recorder keeps the
// http.Flusher interface that some handlers check for directly.
func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logAccess writes one Info record for a served request.
func (p *Proxy) logAccess(rec *statusRecorder, r *http.Request, st *requestState) {
	status := rec.status
	if status == 0 {
		// A handler that wrote nothing sent 200, or the client went away
		// before anything was written.
		status = http.StatusOK
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", time.Since(st.start)),
		slog.String("remote_addr", r.RemoteAddr),
	}
	if st.id != nil {
		attrs = append(attrs,
			slog.String("handle", string(st.id.Handle)),
			slog.String("did", st.id.DID),
			slog.String("device", st.id.Device),
			slog.String("login", st.id.Method))
	}
	p.logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRequestFlags(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		flags       requestFlags
		stdin       string
		method      string
		body        string
		contentType string
		wantErr     string
	}{
		{name: "default GET", method: "GET"},
		{name: "data makes POST", flags: requestFlags{data: "a=1"}, method: "POST", body: "a=1", contentType: "application/x-www-form-urlencoded"},
		{name: "method in lowercase", flags: requestFlags{method: "put", data: "x"}, method: "PUT", body: "x", contentType: "application/x-www-form-urlencoded"},
		{name: "body from a file", flags: requestFlags{data: "@" + file, headers: []string{"Content-Type: application/json"}},
			method: "POST", body: `{"from":"file"}`, contentType: "application/json"},
		{name: "body from stdin", flags: requestFlags{data: "@-"}, stdin: "piped", method: "POST", body: "piped", contentType: "application/x-www-form-urlencoded"},
		{name: "missing file", flags: requestFlags{data: "@/nonexistent/body"}, wantErr: "--data @/nonexistent/body"},
		{name: "header without colon", flags: requestFlags{headers: []string{"X-Note value"}}, wantErr: `invalid --header "X-Note value"`},
		{name: "header with a space in the name", flags: requestFlags{headers: []string{"X Note: v"}}, wantErr: "invalid --header"},
		{name: "method with a space", flags: requestFlags{method: "GET /"}, wantErr: `invalid -X "GET /"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.flags.build(context.Background(), strings.NewReader(tc.stdin), "https://rp.example/api")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != tc.method {
				t.Errorf("method = %s, want %s", req.Method, tc.method)
			}
			var body []byte
			if req.Body != nil {
				body, _ = io.ReadAll(req.Body)
			}
			if string(body) != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if got := req.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
		})
	}
}

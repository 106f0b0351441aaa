package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
)

func TestBrowserFollowsForms(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "pre", Value: "c1"})
		fmt.Fprint(w, `<html><body>
<form action="/search" method="get"><input name="q"></form>
<form action="/signin" method="post">
  <input type="hidden" name="csrf" value="tok">
  <input name="user" value="">
  <input type="password" name="password">
  <select name="handle"><option value="a.test">a</option><option value="b.test" selected>b</option></select>
  <input type="checkbox" name="remember" checked>
  <button name="decision" value="allow">Allow</button>
</form></body></html>`)
	})
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("pre")
		if err != nil || c.Value != "c1" {
			http.Error(w, "no cookie", http.StatusForbidden)
			return
		}
		_ = r.ParseForm()
		fmt.Fprintf(w, "<p>csrf=%s user=%s password=%s handle=%s remember=%s decision=%s</p>",
			r.PostForm.Get("csrf"), r.PostForm.Get("user"), r.PostForm.Get("password"),
			r.PostForm.Get("handle"), r.PostForm.Get("remember"), r.PostForm.Get("decision"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{client: &http.Client{Jar: jar}}
	ctx := context.Background()
	p, err := b.get(ctx, srv.URL+"/signin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.submit(ctx, p, map[string]string{"user": "alice", "password": "pw", "decision": "allow"})
	if err != nil {
		t.Fatal(err)
	}
	want := "csrf=tok user=alice password=pw handle=b.test remember=on decision=allow"
	if got.text() != want {
		t.Errorf("posted %q, want %q", got.text(), want)
	}
	if _, err := b.submit(ctx, p, map[string]string{"missing": "x"}); err == nil {
		t.Error("submit found a form for a field no form has")
	}
}

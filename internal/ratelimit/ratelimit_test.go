package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiterTokenBucket(t *testing.T) {
	t.Parallel()
	start := time.Unix(1767225600, 0)
	l := New(3, 10*time.Second)
	for i := range 3 {
		if ok, _ := l.Allow("a", start); !ok {
			t.Fatalf("Allow %d of a full bucket failed", i+1)
		}
	}

	ok, wait := l.Allow("a", start)
	if ok || wait != 10*time.Second {
		t.Errorf("Allow of an empty bucket = %v, wait %v; want false and 10s", ok, wait)
	}
	if ok, _ := l.Allow("b", start); !ok {
		t.Errorf("another key shares the bucket of a")
	}

	ok, wait = l.Allow("a", start.Add(4*time.Second))
	if ok || wait != 6*time.Second {
		t.Errorf("Allow after 4s = %v, wait %v; want false and 6s", ok, wait)
	}
	if ok, _ := l.Allow("a", start.Add(10*time.Second)); !ok {
		t.Errorf("Allow after one interval failed")
	}

	// A clock that goes back earns nothing.
	if ok, _ := l.Allow("a", start); ok {
		t.Errorf("Allow after the clock went back succeeded")
	}

	// An hour later the bucket contains the burst, not more.
	later := start.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("a", later); !ok {
			t.Fatalf("Allow %d after an hour failed", i+1)
		}
	}
	if ok, _ := l.Allow("a", later); ok {
		t.Errorf("the bucket held more than its burst")
	}
}

func TestLimiterEvictsBeyondMax(t *testing.T) {
	t.Parallel()
	now := time.Unix(1767225600, 0)
	l := New(1, time.Hour)
	for i := range MaxKeys {
		l.buckets[strconv.Itoa(i)] = &bucket{tokens: 0, last: now.Add(time.Duration(i) * time.Millisecond)}
	}
	l.Allow("new", now.Add(time.Minute))
	if n := len(l.buckets); n > MaxKeys*3/4+1 {
		t.Errorf("%d buckets after eviction, want at most three quarters of %d", n, MaxKeys)
	}
	if _, ok := l.buckets["new"]; !ok {
		t.Errorf("the new key has no bucket")
	}
	if _, ok := l.buckets[strconv.Itoa(MaxKeys-1)]; !ok {
		t.Errorf("eviction dropped the most recently used bucket")
	}
}

func TestNilLimiterAllows(t *testing.T) {
	var l *Limiter
	if ok, wait := l.Allow("a", time.Unix(0, 0)); !ok || wait != 0 {
		t.Errorf("nil Limiter: Allow = %v, %v; want true, 0", ok, wait)
	}
}

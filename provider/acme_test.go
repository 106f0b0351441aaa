package provider

import (
	"context"
	"testing"
	"time"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/store"
)

func TestDevicesReplacedStatus(t *testing.T) {
	ctx := context.Background()
	svc := testService(t)
	h := handle.Handle("carol.dhp.test")
	created, err := svc.CreateIdentity(ctx, "alice", h, IdentityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []*store.Device{
		{Label: "laptop", Serial: "01", Fingerprint: "aa", CreatedAt: t0},
		{Label: "phone", Serial: "02", Fingerprint: "bb", CreatedAt: t0.Add(time.Hour)},
		{Label: "laptop", Serial: "03", Fingerprint: "aa", CreatedAt: t0.Add(2 * time.Hour)},
		{Label: "tablet", Serial: "04", Fingerprint: "cc", CreatedAt: t0.Add(3 * time.Hour)},
		{Label: "tablet", Serial: "05", Fingerprint: "cc", CreatedAt: t0.Add(4 * time.Hour)},
	}
	err = svc.Store.InTx(ctx, func(tx store.Tx) error {
		for _, d := range rows {
			d.IdentityID = created.Identity.ID
			d.CertDER = []byte{0x30, 0x00}
			if err := tx.CreateDevice(ctx, d); err != nil {
				return err
			}
		}
		return tx.RevokeDevice(ctx, rows[4].ID, t0.Add(5*time.Hour), 1)
	})
	if err != nil {
		t.Fatal(err)
	}

	devices, err := svc.Devices(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"01": DeviceReplaced,      // renewed as 03
		"02": store.DeviceActive,  // the only certificate of its key
		"03": store.DeviceActive,  // newest of its key
		"04": DeviceReplaced,      // renewed as 05
		"05": store.DeviceRevoked, // a revoked certificate stays revoked
	}
	if len(devices) != len(want) {
		t.Fatalf("Devices returned %d rows, want %d", len(devices), len(want))
	}
	for _, d := range devices {
		if d.Status != want[d.Serial] {
			t.Errorf("device %s (%s): status %q, want %q", d.Serial, d.Label, d.Status, want[d.Serial])
		}
	}
	stored, err := svc.Store.DeviceBySerial(ctx, "01")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != store.DeviceActive {
		t.Errorf("the stored row of a replaced certificate changed to %q; it must stay active until it expires", stored.Status)
	}
}

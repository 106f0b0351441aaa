package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/skip2/go-qrcode"

	"github.com/dnshandle/dnshandle/handle"
	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/store"
)

// devicesView is the content of the device page of an identity.
type devicesView struct {
	Identity     *store.Identity
	Devices      []*store.Device
	DirectoryURL string
}

func (w *Web) devicesPage(rw http.ResponseWriter, r *http.Request) {
	id, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	notice := ""
	if serial := r.URL.Query().Get("revoked"); validSerial(serial) {
		notice = fmt.Sprintf("The device with serial %s is revoked.", serial)
	}
	w.showDevices(rw, r, http.StatusOK, id, h, &page{Notice: notice})
}

// showDevices writes the device page of h with the form values and
// errors of p.
func (w *Web) showDevices(rw http.ResponseWriter, r *http.Request, status int, id *store.Identity, h handle.Handle, p *page) {
	devices, err := w.cfg.Provider.Devices(r.Context(), h)
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("devices of %s: %w", h, err))
		return
	}
	p.Title = "Devices of @" + h.String()
	p.Data = devicesView{Identity: id, Devices: devices, DirectoryURL: w.cfg.ACMEDirectoryURL}
	w.render(rw, r, status, "devices", p)
}

// enrollmentView is the content of the page that shows a new enrollment
// code.
type enrollmentView struct {
	Enrollment *acme.Enrollment
	Code       string
	// Key is the EAB HMAC key in unpadded base64url.
	Key string
	// Command is the command line that enrolls a device with the code.
	Command string
	// CAFile is Config.CAFile, which Command passes as --ca.
	CAFile string
	// QR is the code as a QR code in a data: URI of a PNG image, QRSize
	// its width and height in pixels.
	QR     template.URL
	QRSize int
}

// qrModulePixels is the size of one QR code module in pixels.
const qrModulePixels = 4

func (w *Web) enroll(rw http.ResponseWriter, r *http.Request) {
	id, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	label := strings.TrimSpace(r.PostForm.Get("label"))
	form := url.Values{"label": {label}}
	if problem := labelProblem(label); problem != "" {
		w.showDevices(rw, r, http.StatusUnprocessableEntity, id, h, &page{Form: form, Errors: fieldErrors{"label": problem}})
		return
	}

	en, err := w.cfg.Provider.NewEnrollment(r.Context(), h, label)
	var labelErr *acme.LabelError
	if errors.As(err, &labelErr) {
		w.showDevices(rw, r, http.StatusUnprocessableEntity, id, h, &page{Form: form, Errors: fieldErrors{"label": labelErr.Reason}})
		return
	}
	if err != nil {
		w.internalError(rw, r, fmt.Errorf("enrollment for %s: %w", h, err))
		return
	}

	view, err := newEnrollmentView(en, w.cfg.CAFile)
	if err != nil {
		w.internalError(rw, r, err)
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "enrollment code made", "handle", h.String(), "remote_addr", r.RemoteAddr)
	w.render(rw, r, http.StatusOK, "enrollment", &page{Title: "Enrollment code for @" + h.String(), Data: view})
}

func newEnrollmentView(en *acme.Enrollment, caFile string) (enrollmentView, error) {
	code := en.Code()
	// The code is long, so the symbol uses the lowest error correction to
	// keep its modules large enough for a phone camera.
	symbol, err := qrcode.New(code, qrcode.Low)
	if err != nil {
		return enrollmentView{}, fmt.Errorf("render the enrollment code as a QR code: %w", err)
	}
	png, err := symbol.PNG(-qrModulePixels)
	if err != nil {
		return enrollmentView{}, fmt.Errorf("encode the QR code as PNG: %w", err)
	}
	command := "dnshandle device enroll --code " + code
	if caFile != "" {
		command += " --ca " + shellQuote(caFile)
	}
	return enrollmentView{
		Enrollment: en,
		Code:       code,
		Key:        en.EncodedKey(),
		Command:    command,
		CAFile:     caFile,
		// The URI is built here from PNG bytes alone, so it is safe to
		// mark as a URL for the template.
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		QRSize: len(symbol.Bitmap()) * qrModulePixels,
	}, nil
}

// shellQuote returns s as one word for a POSIX shell: unchanged when it
// holds only characters that no shell treats specially, or else in single
// quotes.
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// revokeView is the content of the revocation confirmation page.
type revokeView struct {
	Handle string
	Device *store.Device
}

// deviceOf returns the device of h with the serial, or nil.
func (w *Web) deviceOf(r *http.Request, h handle.Handle, serial string) (*store.Device, error) {
	devices, err := w.cfg.Provider.Devices(r.Context(), h)
	if err != nil {
		return nil, fmt.Errorf("devices of %s: %w", h, err)
	}
	for _, d := range devices {
		if d.Serial == serial {
			return d, nil
		}
	}
	return nil, nil
}

func (w *Web) revokePage(rw http.ResponseWriter, r *http.Request) {
	w.confirmRevoke(rw, r, r.URL.Query(), http.StatusOK)
}

// confirmRevoke writes the confirmation page for the device named by the
// serial in values.
func (w *Web) confirmRevoke(rw http.ResponseWriter, r *http.Request, values url.Values, status int) {
	_, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	f, errs := parseRevoke(values)
	if errs["serial"] != "" {
		w.renderError(rw, r, http.StatusBadRequest, "No device chosen", errs["serial"], "Open the device list and use the Revoke link of the device.")
		return
	}
	d, err := w.deviceOf(r, h, f.Serial)
	if err != nil {
		w.internalError(rw, r, err)
		return
	}
	if d == nil {
		w.deviceNotFound(rw, r, h, f.Serial)
		return
	}
	w.render(rw, r, status, "revoke", &page{Title: "Revoke " + d.Label, Errors: errs, Data: revokeView{Handle: h.String(), Device: d}})
}

func (w *Web) deviceNotFound(rw http.ResponseWriter, r *http.Request, h handle.Handle, serial string) {
	w.renderError(rw, r, http.StatusNotFound, "Device not found",
		fmt.Sprintf("@%s has no device with serial %s.", h, serial), "Open the device list and choose the device there.")
}

func (w *Web) revoke(rw http.ResponseWriter, r *http.Request) {
	_, h, ok := w.ownedIdentity(rw, r)
	if !ok {
		return
	}
	f, errs := parseRevoke(r.PostForm)
	if len(errs) > 0 || !f.Confirmed {
		status := http.StatusOK
		if len(errs) > 0 {
			status = http.StatusUnprocessableEntity
		}
		w.confirmRevoke(rw, r, r.PostForm, status)
		return
	}

	err := w.cfg.Provider.RevokeDevice(r.Context(), h, f.Serial, f.Reason)
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.deviceNotFound(rw, r, h, f.Serial)
		return
	case errors.Is(err, store.ErrConflict):
		w.renderError(rw, r, http.StatusConflict, "Already revoked",
			fmt.Sprintf("The device with serial %s of @%s was revoked before.", f.Serial, h), "Nothing more is needed.")
		return
	case err != nil:
		w.internalError(rw, r, fmt.Errorf("revoke device %s of %s: %w", f.Serial, h, err))
		return
	}
	w.cfg.Logger.InfoContext(r.Context(), "device revoked", "handle", h.String(), "remote_addr", r.RemoteAddr)
	seeOther(rw, "/devices/"+h.String()+"?revoked="+url.QueryEscape(f.Serial))
}

package client

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// Asker requests from the person which of the enrolled handles to show to origin,
// for example with a prompt on a terminal. It returns the handle picked, or
// an error when the person declines or cannot be asked.
type Asker func(origin string, enrolled []handle.Handle) (handle.Handle, error)

// NoChoiceError reports a site without a stored handle choice when there
// is no Asker to request one.
type NoChoiceError struct {
	// Origin is the site.
	Origin string
	// Enrolled are the handles the person could choose from.
	Enrolled []handle.Handle
}

func (e *NoChoiceError) Error() string {
	if len(e.Enrolled) == 0 {
		return fmt.Sprintf("no handle is chosen for %s and no device is enrolled: enroll one with dnshandle device enroll", e.Origin)
	}
	names := make([]string, len(e.Enrolled))
	for i, h := range e.Enrolled {
		names[i] = h.Display()
	}
	return fmt.Sprintf("no handle is chosen for %s yet: choose one of %s with --handle, or run the command on a terminal to be asked",
		e.Origin, strings.Join(names, ", "))
}

// ChoiceError reports a handle choice that cannot be used: the handle is
// not enrolled on this device, or its device certificate is revoked.
type ChoiceError struct {
	// Origin is the site.
	Origin string
	// Handle is the chosen handle.
	Handle handle.Handle
	// Reason describes what is wrong and what to do.
	Reason string
}

func (e *ChoiceError) Error() string {
	return fmt.Sprintf("handle %s for %s: %s", e.Handle.Display(), e.Origin, e.Reason)
}

// Choose returns the handle chosen for origin (as ParseOrigin writes it).
// The first time it calls ask with the enrolled handles, checks that the
// handle returned is one of them, and stores it, so each site is asked once. A nil
// ask makes a site without a choice fail with *NoChoiceError. A stored
// handle that is no longer enrolled fails with *ChoiceError: choose again
// with Set, or remove the choice with Forget. Other errors come from ask
// or from writing the file (*SitesError).
func (s *Sites) Choose(origin string, enrolled []handle.Handle, ask Asker) (handle.Handle, error) {
	if h, ok := s.Get(origin); ok {
		if !slices.Contains(enrolled, h) {
			return "", &ChoiceError{Origin: origin, Handle: h,
				Reason: "chosen earlier but not enrolled on this device any more: choose another handle with --handle"}
		}
		return h, nil
	}

	if ask == nil || len(enrolled) == 0 {
		return "", &NoChoiceError{Origin: origin, Enrolled: enrolled}
	}
	h, err := ask(origin, enrolled)
	if err != nil {
		return "", err
	}
	if !slices.Contains(enrolled, h) {
		return "", &ChoiceError{Origin: origin, Handle: h, Reason: "not enrolled on this device: pick one of the enrolled handles"}
	}
	if err := s.Set(origin, h); err != nil {
		return "", err
	}
	return h, nil
}

// EnrolledHandles returns the handles of the devices under the base
// directory dir whose certificates are not revoked, sorted. Devices that
// cannot be read are reported in the joined error while the others are
// still returned, as List does.
func EnrolledHandles(dir string) ([]handle.Handle, error) {
	devices, err := List(dir)
	var handles []handle.Handle
	for _, d := range devices {
		if d.Revoked.IsZero() {
			handles = append(handles, d.Handle)
		}
	}
	return handles, err
}

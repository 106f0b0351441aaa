// Package client is the device side of DNS handle enrollment. It enrolls a
// device over ACME (RFC 8555) with an External Account Binding credential
// from the provider. It renews the certificate in the window that the
// provider's renewal information (RFC 9773) suggests, lists the stored
// devices and revokes them.
//
// The device key and the ACME account key are generated on the device and
// never leave it. Each enrolled handle has its own directory under a base
// directory:
//
//	<dir>/<handle>/key.pem          device private key, PKCS #8 PEM, mode 0600
//	<dir>/<handle>/account-key.pem  ACME account private key, PKCS #8 PEM, mode 0600
//	<dir>/<handle>/chain.pem        [device certificate, CSC] in PEM, mode 0644
//	<dir>/<handle>/meta.json        directory, account and certificate URLs, dates
//	<dir>/sites.json                the handle chosen for each site, mode 0600 (Sites)
//
// The base and device directories are created with mode 0700. Enroll builds
// the device directory under a temporary name and renames it when the
// certificate is stored, so a failed enrollment leaves nothing behind.
//
// An enrollment code is one line, dnshandle-enroll:v1:<base64url JSON>,
// that carries the directory URL, the handle and the EAB credential; see
// ParseEnrollmentCode.
//
// Sites keeps which handle the device shows to each site, and SiteDialer
// presents only that handle's certificate there. EncodePKCS12 and
// ChromiumPolicy carry a device and its site choices into a browser.
//
// The functions never log. They are safe for concurrent use on different
// device directories; concurrent calls on one device directory race on its
// files.
package client

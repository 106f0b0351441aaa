// Package interop starts real DNS servers from Debian packages (Knot DNS as
// an authoritative server, unbound as a validating resolver) on loopback
// ports for the interop test suites. Each helper skips the test with a
// message naming the package to install when the program is absent.
//
// The suites that use it carry the build tag "interop" and run with
// `make interop`, which installs the packages first.
package interop

// Command dnshandle is the one binary of the dnshandle project: it prints the
// DNS records of a handle, resolves and checks handles, and (as the project
// grows) runs the DNS Handle Provider, the relying-party proxy and the demo.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dnshandle:", err)
		os.Exit(1)
	}
}

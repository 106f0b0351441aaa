package web_test

import (
	"github.com/dnshandle/dnshandle/provider"
	"github.com/dnshandle/dnshandle/provider/web"
)

// The tests run the pages on the real provider service.
var _ web.Provider = (*provider.Service)(nil)

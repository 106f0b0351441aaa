package dnssec

import (
	"bytes"

	"github.com/miekg/dns"
)

// parentName returns name without its first label, "." for a top-level
// name and "" for the root.
func parentName(name string) string {
	if name == "." || name == "" {
		return ""
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// isAncestorOrSelf reports whether name is ancestor or lies below it.
func isAncestorOrSelf(ancestor, name string) bool {
	return dns.IsSubDomain(ancestor, name)
}

// suffixLabels returns the last n labels of name as a fully qualified
// name; n = 0 gives the root.
func suffixLabels(name string, n int) string {
	idx := dns.Split(name)
	if n <= 0 || len(idx) == 0 {
		return "."
	}
	if n >= len(idx) {
		return name
	}
	return name[idx[len(idx)-n]:]
}

// commonAncestor returns the deepest name that is an ancestor of, or
// equal to, both a and b.
func commonAncestor(a, b string) string {
	return suffixLabels(a, dns.CompareDomainName(a, b))
}

// childOf returns the name made of label and parent.
func childOf(label, parent string) string {
	if parent == "." {
		return label + "."
	}
	return label + "." + parent
}

// namesBetween returns the names below top down to and including name,
// top excluded, shortest first: namesBetween("test.", "a.b.test.") is
// ["b.test.", "a.b.test."].
func namesBetween(top, name string) []string {
	var out []string
	for n := name; n != "" && n != top; n = parentName(n) {
		out = append(out, n)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// canonicalCompare orders names as RFC 4034, section 6.1 defines: by
// labels from the right, each label compared as an unescaped byte string
// with uppercase ASCII folded to lowercase. It returns -1, 0 or +1.
func canonicalCompare(a, b string) int {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := bytes.Compare(labelBytes(la[i]), labelBytes(lb[j])); c != 0 {
			return c
		}
	}
	switch {
	case len(la) < len(lb):
		return -1
	case len(la) > len(lb):
		return 1
	}
	return 0
}

// labelBytes decodes the presentation escapes of one label (\DDD and \X)
// and folds ASCII to lowercase.
func labelBytes(label string) []byte {
	out := make([]byte, 0, len(label))
	for i := 0; i < len(label); i++ {
		c := label[i]
		if c == '\\' && i+3 < len(label) && isDigit(label[i+1]) && isDigit(label[i+2]) && isDigit(label[i+3]) {
			c = (label[i+1]-'0')*100 + (label[i+2]-'0')*10 + (label[i+3] - '0')
			i += 3
		} else if c == '\\' && i+1 < len(label) {
			i++
			c = label[i]
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return out
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// typeName returns the mnemonic of an RR type, or TYPEnnn.
func typeName(t uint16) string {
	return dns.Type(t).String()
}

package provider

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ConfigError reports a configuration file that is not valid TOML, or
// whose value at a key has a type the key does not take. LoadConfig
// returns it; Config.Validate reports the rules beyond types.
type ConfigError struct {
	// File is the path of the configuration file.
	File string

	// Line and Column locate the problem, counted from 1. Zero means the
	// toml library did not give the position.
	Line, Column int

	// Key is the dotted TOML key, such as "dns.cache_size". It is empty
	// when the problem comes before any key.
	Key string

	// Found and Expected are the TOML type of the value, such as "a
	// string", and the type that Key takes, such as "an integer". Both are
	// empty for a syntax error.
	Found, Expected string

	// Problem describes what is wrong.
	Problem string

	// Hint is the text to write instead, or empty.
	Hint string

	// Usage is the toml library's guidance for a syntax error, on several
	// lines, for display below the message. It is often empty, and Error
	// leaves it out.
	Usage string

	// Err is the error of the toml library.
	Err error
}

// Error returns one line with the file, the position, the key, the
// problem and the hint.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config " + e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	if e.Column > 0 {
		fmt.Fprintf(&b, ", column %d", e.Column)
	}
	if e.Key != "" {
		b.WriteString(", key " + e.Key)
	}
	b.WriteString(": " + e.Problem)
	if e.Hint != "" {
		b.WriteString(": " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the error of the toml library.
func (e *ConfigError) Unwrap() error { return e.Err }

// decodeConfig decodes the TOML text of the file path into cfg and turns
// the errors of the toml library into a *ConfigError.
func decodeConfig(path, text string, cfg *Config) (toml.MetaData, error) {
	// A decode into a map fails only on syntax. The map also gives the
	// value whose type does not fit when the decode into cfg fails.
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		return toml.MetaData{}, tomlError(path, text, raw, err)
	}
	md, err := toml.Decode(text, cfg)
	if err != nil {
		return md, tomlError(path, text, raw, err)
	}
	return md, nil
}

// tomlError turns an error of the toml library into a *ConfigError.
func tomlError(path, text string, raw map[string]any, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		line, col := position(text, pe.Position)
		return &ConfigError{
			File:    path,
			Line:    line,
			Column:  col,
			Key:     pe.LastKey,
			Problem: "invalid TOML: " + pe.Message,
			Usage:   usage(pe, line, col),
			Err:     err,
		}
	}
	if e := typeError(path, raw, err); e != nil {
		return e
	}
	return &ConfigError{File: path, Problem: err.Error(), Err: err}
}

// position returns the line and column of pos in text, counted from 1,
// computed from the byte offset pos.Start. The parser of toml v1.6.0
// points some errors at the newline that ends the line, and reports the
// line after it, and its column is one too far at the start of a line. A
// position without a usable offset keeps the library's line and no column.
func position(text string, pos toml.Position) (line, col int) {
	if pos.Start < 0 || pos.Start > len(text) || (pos.Start == 0 && pos.Line > 1) {
		return pos.Line, 0
	}
	before := text[:pos.Start]
	line = strings.Count(before, "\n") + 1
	col = pos.Start - (strings.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// usage returns the guidance that the toml library has for the error, or
// "". The library offers it only as the end of ErrorWithUsage, which in
// toml v1.6.0 panics on a column of 0, so it gets the position that
// position computed, or is not called.
func usage(pe toml.ParseError, line, col int) string {
	if line < 1 || col < 1 {
		return ""
	}
	pe.Position.Line, pe.Position.Col = line, col
	help := strings.TrimPrefix(pe.ErrorWithUsage(), pe.ErrorWithPosition())
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(help), "Error help:"))
}

// decodeErrorPattern matches the prefix that toml v1.6.0 puts before a
// decode error: the line of the key, when the library has it, and the key
// as a Go-quoted string.
//
// NOTE: the library returns type mismatches as plain errors, so their text
// is the only source of the position and the key. A library version that
// words them otherwise yields a ConfigError that holds its message as is.
var decodeErrorPattern = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): `)

// typeError builds the *ConfigError of a decode error whose key names a
// field of Config that the value in raw does not fit. It returns nil when
// err is not such an error.
func typeError(path string, raw map[string]any, err error) *ConfigError {
	m := decodeErrorPattern.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	key, uerr := strconv.Unquote(m[2])
	if uerr != nil {
		return nil
	}
	pieces := splitKey(key)
	want, ok := keyType(reflect.TypeFor[Config](), pieces)
	if !ok {
		return nil
	}
	found := findMismatch(raw, pieces, want)
	if !found.ok {
		return nil
	}

	e := &ConfigError{File: path, Key: key, Err: err}
	// The library gives the line of the last table in an array of tables
	// that has the key, which is right only when the mismatch is there.
	if found.last {
		e.Line, _ = strconv.Atoi(m[1])
	}
	leaf := pieces[len(pieces)-1]
	value, subject := found.value, leaf
	if list, ok := value.([]any); ok && want.Kind() == reflect.Slice {
		// An array of the wrong elements: name the first wrong one.
		i := slices.IndexFunc(list, func(item any) bool { return !fits(item, want.Elem()) })
		value, subject = list[i], fmt.Sprintf("element %d of %s", i+1, leaf)
		e.Found, e.Expected = tomlTypeName(value), goTypeName(want.Elem())
	} else {
		e.Found, e.Expected = tomlTypeName(value), goTypeName(want)
	}
	e.Problem = fmt.Sprintf("%s is %s%s, but it must be %s", subject, e.Found, shortValue(value), e.Expected)
	if found.entry != "" {
		e.Problem = "in " + found.entry + ", " + e.Problem
	}
	e.Hint = typeHint(strings.Join(pieces, "."), leaf, want, found.value)
	return e
}

// splitKey splits a key as toml.Key.String writes it: pieces joined by
// dots, a piece with other characters than letters, digits, "_" and "-"
// in double quotes with `\"` for a quote.
func splitKey(key string) []string {
	var pieces []string
	for len(key) > 0 {
		var piece string
		if key[0] == '"' {
			var b strings.Builder
			i := 1
			for ; i < len(key) && key[i] != '"'; i++ {
				if key[i] == '\\' && i+1 < len(key) {
					i++
				}
				b.WriteByte(key[i])
			}
			piece, key = b.String(), key[min(i+1, len(key)):]
		} else {
			end := strings.IndexByte(key, '.')
			if end < 0 {
				end = len(key)
			}
			piece, key = key[:end], key[end:]
		}
		pieces = append(pieces, piece)
		key = strings.TrimPrefix(key, ".")
	}
	return pieces
}

// keyType returns the Go type that the key pieces name below t: struct
// fields by their toml tag, a map value for any piece, and the table type
// of an array of tables.
func keyType(t reflect.Type, pieces []string) (reflect.Type, bool) {
	for _, piece := range pieces {
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := fieldByTag(t, piece)
			if !ok {
				return nil, false
			}
			t = f.Type
		default:
			return nil, false
		}
	}
	return t, true
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// mismatch is the value that findMismatch found.
type mismatch struct {
	value any
	ok    bool
	// entry names the table in an array of tables, such as "the 2nd
	// [[dns.zones]] table", when the array has more than one.
	entry string
	// last reports that no later table of that array has the key, so that
	// the line the library gives is the line of this value.
	last bool
}

// findMismatch returns the first value at the key pieces in raw that does
// not fit want, the value the decoder stopped at. Arrays of tables are
// searched in order.
func findMismatch(raw any, pieces []string, want reflect.Type) mismatch {
	var prefix []string
	for i, piece := range pieces {
		switch v := raw.(type) {
		case map[string]any:
			raw = v[piece]
		case []map[string]any:
			return findInArray(v, prefix, pieces[i:], want)
		default:
			return mismatch{}
		}
		prefix = append(prefix, piece)
	}
	return mismatch{value: raw, ok: raw != nil && !fits(raw, want), last: true}
}

// findInArray searches the tables of the array of tables at prefix.
func findInArray(tables []map[string]any, prefix, rest []string, want reflect.Type) mismatch {
	for i, table := range tables {
		m := findMismatch(table, rest, want)
		if !m.ok {
			continue
		}
		if len(tables) > 1 {
			m.entry = fmt.Sprintf("the %s [[%s]] table", ordinal(i+1), strings.Join(prefix, "."))
		}
		for _, later := range tables[i+1:] {
			if present(later, rest) {
				m.last = false
			}
		}
		return m
	}
	return mismatch{}
}

// present reports whether the key pieces lead to a value in raw.
func present(raw any, pieces []string) bool {
	for i, piece := range pieces {
		switch v := raw.(type) {
		case map[string]any:
			raw = v[piece]
		case []map[string]any:
			for _, table := range v {
				if present(table, pieces[i:]) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return raw != nil
}

// fits reports whether the decoder can store the TOML value v in a Go value
// of type t. Tables are only checked to be tables: the decoder reports a
// mismatch inside one at the inner key.
func fits(v any, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		_, ok := v.(string)
		return ok
	case reflect.Bool:
		_, ok := v.(bool)
		return ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, ok := v.(int64)
		return ok
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case float64, int64:
			return true
		}
		return false
	case reflect.Struct, reflect.Map:
		_, ok := v.(map[string]any)
		return ok
	case reflect.Slice:
		switch list := v.(type) {
		case []map[string]any:
			return t.Elem().Kind() == reflect.Struct || t.Elem().Kind() == reflect.Map
		case []any:
			for _, item := range list {
				if !fits(item, t.Elem()) {
					return false
				}
			}
			return true
		}
		return false
	}
	return true
}

// tomlTypeName names the TOML type of a value that the toml library
// decoded into an any.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// goTypeName names, in TOML terms, the values a Go type takes.
func goTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct:
		return "a table"
	case reflect.Map:
		return "a table of " + strings.TrimPrefix(strings.TrimPrefix(goTypeName(t.Elem()), "a "), "an ") + " values"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "an array of tables"
		}
		return "an array of " + plural(goTypeName(t.Elem()))
	}
	return t.String()
}

// plural turns "a string" into "strings" and "an array of strings" into
// "arrays of strings".
func plural(name string) string {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "a "), "an ")
	first, rest, _ := strings.Cut(name, " ")
	if rest != "" {
		return first + "s " + rest
	}
	return first + "s"
}

// shortValue quotes a string, number or boolean for a message, and
// returns "" for other values.
func shortValue(v any) string {
	const maxLen = 40
	switch x := v.(type) {
	case string:
		if len(x) > maxLen {
			x = x[:maxLen] + "..."
		}
		return " " + strconv.Quote(x)
	case int64, float64, bool:
		return fmt.Sprintf(" %v", x)
	}
	return ""
}

// typeHint returns what to write in place of the value v at key, whose last
// piece is leaf and whose type is want.
func typeHint(key, leaf string, want reflect.Type, v any) string {
	switch want.Kind() {
	case reflect.String:
		switch v.(type) {
		case int64, float64, bool:
			return fmt.Sprintf(`put it in double quotes: %s = "%v"`, leaf, v)
		}
		return fmt.Sprintf(`write a string in double quotes, such as %s = "..."`, leaf)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return fmt.Sprintf("remove the quotes: %s = %d", leaf, n)
			}
		}
		return fmt.Sprintf("write a whole number without quotes, such as %s = 1000", leaf)
	case reflect.Bool:
		if s, ok := v.(string); ok {
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return fmt.Sprintf("remove the quotes: %s = %t", leaf, b)
			}
		}
		return fmt.Sprintf("write %s = true or %s = false, without quotes", leaf, leaf)
	case reflect.Struct:
		return "write it as a table: a line [" + key + "] with its keys below"
	case reflect.Map:
		return fmt.Sprintf(`write a table with one quoted name per entry, such as %s = {"ns1.dhp.test" = ["192.0.2.1"]}`, leaf)
	case reflect.Slice:
		return sliceHint(key, leaf, want, v)
	}
	return ""
}

func sliceHint(key, leaf string, want reflect.Type, v any) string {
	if want.Elem().Kind() == reflect.Struct {
		return "write each entry as its own table under a line [[" + key + "]], with double brackets"
	}
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("make it an array: %s = [%q]", leaf, x)
	case map[string]any:
		// A key such as ns1.dhp.test without quotes is read as nested
		// tables: ns1, then dhp, then test.
		return `write an array of strings; a name that contains dots must be quoted, as in "ns1.dhp.test" = ["192.0.2.1"]`
	case []any:
		if want.Elem().Kind() == reflect.String {
			quoted := make([]string, len(x))
			for i, item := range x {
				quoted[i] = strconv.Quote(fmt.Sprint(item))
			}
			return fmt.Sprintf("write every element in double quotes: %s = [%s]", leaf, strings.Join(quoted, ", "))
		}
	}
	return fmt.Sprintf(`write an array of strings, such as %s = ["a", "b"]`, leaf)
}

// ordinal returns "1st", "2nd", "3rd", "4th" and so on.
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

package tasks

import (
	"fmt"
	"unicode/utf8"
)

// MaxSymbolLen is the maximum length of a Symbol, in bytes (a valid symbol is
// ASCII, so bytes and characters coincide).
const MaxSymbolLen = 20

// maxQuotedInput bounds how much of a refused input is quoted in an error
// message, in bytes, so that a hostile or corrupt input cannot blow up logs.
const maxQuotedInput = 64

// Symbol is a validated stock symbol such as "AAPL", "BRK-B", "^GSPC" or
// "EURUSD=X": 1 to MaxSymbolLen characters of A-Z 0-9 . - ^ =, containing at
// least one letter or digit. It is safe to use as a znode name and as a
// Kafka record key.
//
// Obtain a Symbol from ParseSymbol; a Symbol built by conversion from an
// unchecked string is not guaranteed to be valid (FetchTask panics on one).
type Symbol string

// String returns the symbol as a plain string.
func (s Symbol) String() string { return string(s) }

// ParseSymbol validates s and returns it as a Symbol. ASCII lower-case
// letters are upper-cased first ("brk-b" -> "BRK-B"); no other normalisation
// is done (no trimming, no Unicode case mapping).
//
// It returns an error wrapping ErrInvalidSymbol, naming the input with %q,
// when s is empty, longer than MaxSymbolLen bytes, contains any byte other
// than A-Z a-z 0-9 . - ^ = (so '/', spaces, NUL and any non-ASCII character
// are refused), or contains no letter or digit (which refuses "." and "..",
// path components ZooKeeper forbids, as well as "-", "^" and the like).
//
// ParseSymbol is pure and safe for concurrent use. Its result is a fixed
// point: ParseSymbol(string(sym)) returns sym.
func ParseSymbol(s string) (Symbol, error) {
	if s == "" {
		return "", fmt.Errorf("%w %q: empty", ErrInvalidSymbol, s)
	}
	if len(s) > MaxSymbolLen {
		return "", fmt.Errorf("%w %s: %d bytes, at most %d allowed",
			ErrInvalidSymbol, quoteInput(s), len(s), MaxSymbolLen)
	}
	buf := make([]byte, len(s))
	alnum := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
			alnum = true
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			alnum = true
		case c == '.', c == '-', c == '^', c == '=':
		default:
			bad := fmt.Sprintf("character %q", s[i:i+1]) // invalid UTF-8: show the byte
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size > 1 {
				bad = fmt.Sprintf("character %q", r)
			}
			return "", fmt.Errorf("%w %q: %s at byte %d not allowed (want A-Z 0-9 . - ^ =)",
				ErrInvalidSymbol, s, bad, i)
		}
		buf[i] = c
	}
	if !alnum {
		return "", fmt.Errorf("%w %q: needs at least one letter or digit", ErrInvalidSymbol, s)
	}
	return Symbol(buf), nil
}

// valid reports whether s is already a valid, canonical (upper-case) Symbol.
func (s Symbol) valid() bool {
	p, err := ParseSymbol(string(s))
	return err == nil && p == s
}

// quoteInput quotes s with %q, truncated to maxQuotedInput bytes.
func quoteInput(s string) string {
	if len(s) <= maxQuotedInput {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:maxQuotedInput], len(s))
}

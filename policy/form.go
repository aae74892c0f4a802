package policy

import (
	"bytes"
	"strings"
)

// formDecode returns the percent-decoded raw as a new string.
func formDecode(raw []byte) string {
	if bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '+') < 0 {
		return string(raw)
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c, n := formByte(raw, i)
		b.WriteByte(c)
		i += n
	}
	return b.String()
}

// formByte decodes the byte at raw[i] and says how many bytes of raw it took.
func formByte(raw []byte, i int) (byte, int) {
	switch c := raw[i]; c {
	case '+':
		return ' ', 1
	case '%':
		if i+2 < len(raw) {
			hi, lo := unhex(raw[i+1]), unhex(raw[i+2])
			if hi >= 0 && lo >= 0 {
				return byte(hi<<4 | lo), 3
			}
		}
		return c, 1
	default:
		return c, 1
	}
}

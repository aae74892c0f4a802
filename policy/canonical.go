package policy

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Canonical turns the many spellings a portal accepts for one account into one key
// for locks, rate limits and the users view. It is a set of steps, always applied in
// the order of the table below, whatever order they were named in:
//
//	step       what it does                                               for
//	percent    decodes %XX escapes left in the value (up to 3 rounds)     double-encoded names
//	octets     removes %XX escapes instead (WordPress's sanitize_user)    WordPress
//	tags       removes HTML tags <…> (an unclosed "<" drops the rest),   WordPress, PHP strip_tags
//	           and NUL bytes
//	entities   removes HTML entities &…; (WordPress)                      WordPress
//	nfkc       Unicode NFKC: full-width, ligatures, compatibility forms   every portal
//	accents    removes accents: é→e, ß→ss, æ→ae, ø→o (remove_accents)      WordPress, accent-
//	                                                                      insensitive collations
//	ignorable  removes default-ignorable and control characters           every portal
//	           (zero-width, soft hyphen, BOM, NUL, U+FFFD)
//	space      trims and collapses runs of white space to one space       every portal
//	lower      Unicode case folding                                       every portal
//
// Presets: "email" (nfkc ignorable space lower), "username" and the default (every
// step but octets: when in doubt, merge — a false merge costs a shared counter, a
// missed merge costs the lockout), "wordpress" (octets tags entities nfkc accents
// ignorable space lower, as sanitize_user and MySQL's case- and accent-insensitive
// collation read a login), "none" (only what Clean does: surrounding space, control
// characters).
type Canonical struct {
	steps uint16
}

const (
	stepPercent uint16 = 1 << iota
	stepOctets
	stepTags
	stepEntities
	stepNFKC
	stepAccents
	stepIgnorable
	stepSpace
	stepLower
)

var stepNames = []struct {
	name string
	bit  uint16
}{
	{"percent", stepPercent}, {"octets", stepOctets}, {"tags", stepTags}, {"entities", stepEntities},
	{"nfkc", stepNFKC}, {"accents", stepAccents}, {"ignorable", stepIgnorable}, {"space", stepSpace},
	{"lower", stepLower},
}

var presets = map[string]uint16{
	"email":     stepNFKC | stepIgnorable | stepSpace | stepLower,
	"username":  defaultSteps,
	"wordpress": stepOctets | stepTags | stepEntities | stepNFKC | stepAccents | stepIgnorable | stepSpace | stepLower,
	"none":      0,
}

const defaultSteps = stepPercent | stepTags | stepEntities | stepNFKC | stepAccents | stepIgnorable | stepSpace | stepLower

// DefaultCanonical is the canonical form used when a route names none.
var DefaultCanonical = Canonical{steps: defaultSteps}

// ParseCanonical builds a Canonical from preset and step names (their union).
func ParseCanonical(words []string) (Canonical, error) {
	if len(words) == 0 {
		return Canonical{}, fmt.Errorf("want a preset (%s) or steps (%s)", strings.Join(PresetNames(), ", "), strings.Join(StepNames(), ", "))
	}
	var c Canonical
	for _, w := range words {
		if bits, ok := presets[w]; ok {
			c.steps |= bits
			continue
		}
		i := slices.IndexFunc(stepNames, func(s struct {
			name string
			bit  uint16
		}) bool {
			return s.name == w
		})
		if i < 0 {
			return Canonical{}, fmt.Errorf("unknown preset or step %q (presets: %s; steps: %s)", w, strings.Join(PresetNames(), ", "), strings.Join(StepNames(), ", "))
		}
		c.steps |= stepNames[i].bit
	}
	if c.steps&stepPercent != 0 && c.steps&stepOctets != 0 {
		return Canonical{}, fmt.Errorf("percent and octets exclude each other: percent decodes %%XX, octets removes it")
	}
	return c, nil
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	var s []string
	for k := range presets {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// StepNames lists the steps in the order they apply.
func StepNames() []string {
	s := make([]string, len(stepNames))
	for i, n := range stepNames {
		s[i] = n.name
	}
	return s
}

// Steps returns the names of c's steps in the order they apply.
func (c Canonical) Steps() []string {
	var s []string
	for _, n := range stepNames {
		if c.steps&n.bit != 0 {
			s = append(s, n.name)
		}
	}
	return s
}

var folder = cases.Fold()

// Key returns the canonical form of a principal (already Clean). It is stable:
// Key(Key(s)) == Key(s), as steps may uncover work for earlier ones ("%" and
// "00" around a removed character make "%00"), they are run again until
// nothing changes (at most 4 rounds).
func (c Canonical) Key(s string) string {
	if plainASCII(s) {
		return c.once(s) // stable at once: only case and spaces change
	}
	for range 4 {
		k := c.once(s)
		if k == s {
			break
		}
		s = k
	}
	return s
}

// once applies every step once.
func (c Canonical) once(s string) string {
	if plainASCII(s) {
		// Nothing for percent, octets, tags, entities, nfkc, accents or
		// ignorable to change: only case and spaces.
		if c.steps&stepSpace != 0 && strings.Contains(s, "  ") {
			s = strings.Join(strings.Fields(s), " ")
		}
		if c.steps&stepLower != 0 {
			s = strings.ToLower(s)
		}
		return Clean(s)
	}
	if c.steps&stepPercent != 0 {
		for range 3 {
			if !strings.Contains(s, "%") {
				break
			}
			s = formDecodeKeepPlus(s)
		}
	}
	if c.steps&stepOctets != 0 {
		s = removeOctets(s)
	}
	if c.steps&stepTags != 0 {
		s = stripTags(s)
	}
	if c.steps&stepEntities != 0 {
		s = removeEntities(s)
	}
	if c.steps&stepNFKC != 0 {
		s = norm.NFKC.String(s)
	}
	if c.steps&stepAccents != 0 {
		s = removeAccents(s)
	}
	if c.steps&stepIgnorable != 0 {
		s = strings.Map(func(r rune) rune {
			if ignorable(r) {
				return -1
			}
			return r
		}, s)
	}
	if c.steps&stepSpace != 0 {
		s = strings.Join(strings.Fields(s), " ")
	}
	if c.steps&stepLower != 0 {
		s = folder.String(s)
	}
	return Clean(s)
}

// plainASCII reports whether s is printable ASCII without "%", "<", "&" and
// with no space at either end.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f || c == '%' || c == '<' || c == '&' {
			return false
		}
	}
	return s == "" || (s[0] != ' ' && s[len(s)-1] != ' ')
}

// formDecodeKeepPlus decodes %XX escapes (a "+" stays: it is a character of many
// email addresses).
func formDecodeKeepPlus(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, lo := unhex(s[i+1]), unhex(s[i+2])
			if hi >= 0 && lo >= 0 {
				b.WriteByte(byte(hi<<4 | lo))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	if !utf8.ValidString(b.String()) {
		return strings.ToValidUTF8(b.String(), "\uFFFD")
	}
	return b.String()
}

// removeOctets removes %XX escapes, as WordPress's sanitize_user does.
func removeOctets(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0 {
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// stripTags removes <…> tags as PHP's strip_tags does (an unclosed tag drops the
// rest of the string) and NUL bytes (and the U+FFFD that Clean made of them).
func stripTags(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		s = s[i+j+1:]
	}
	return strings.NewReplacer("\x00", "", "\uFFFD", "").Replace(b.String())
}

// removeEntities removes &…; entities (the shortest match), as sanitize_user does.
func removeEntities(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+1:], ';')
		if j <= 0 { // "&;" is no entity
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		s = s[i+1+j+1:]
	}
}

// letters that decompose to no base letter, as WordPress's remove_accents maps them.
var accentLetters = strings.NewReplacer(
	"ß", "ss", "ẞ", "SS", "æ", "ae", "Æ", "AE", "œ", "oe", "Œ", "OE", "ø", "o", "Ø", "O",
	"đ", "d", "Đ", "D", "ð", "d", "Ð", "D", "ł", "l", "Ł", "L", "þ", "th", "Þ", "TH",
	"ı", "i", "ħ", "h", "Ħ", "H", "ŀ", "l", "Ŀ", "L", "ŧ", "t", "Ŧ", "T", "ŋ", "n", "Ŋ", "N",
	"ĸ", "k", "ſ", "s",
)

// removeAccents removes combining marks after canonical decomposition and maps the
// letters that do not decompose.
func removeAccents(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	d := strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) && !ignorable(r) {
			return -1
		}
		return r
	}, norm.NFD.String(s))
	// After the marks are gone: ǣ decomposes to æ and a macron.
	return norm.NFC.String(accentLetters.Replace(d))
}

// ignorable reports default-ignorable code points, controls and U+FFFD.
func ignorable(r rune) bool {
	switch {
	case r < 0x20 || (0x7f <= r && r <= 0x9f):
		return true
	case r == utf8.RuneError:
		return true
	case unicode.Is(unicode.Cf, r): // soft hyphen, zero-width, bidi controls, BOM, tags
		return true
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		return true
	case unicode.Is(unicode.Variation_Selector, r):
		return true
	case r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0: // Hangul fillers
		return true
	case r == 0x034F || r == 0x17B4 || r == 0x17B5 || (0x180B <= r && r <= 0x180F):
		return true
	}
	return false
}

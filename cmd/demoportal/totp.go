package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Time-based one-time passwords (TOTP, RFC 6238) as authenticator apps compute
// them: HMAC-SHA1 over the number of 30-second steps since the Unix epoch,
// dynamically truncated (RFC 4226) to 6 decimal digits.
const (
	totpDigits = 6
	totpStep   = 30 * time.Second
	// totpSkew is how many steps before and after the current one a code may
	// come from, for clocks that drift and codes typed near a step's end.
	totpSkew = 1
	// totpKeyBytes is the size of a secret made by enrolment: 160 bits, the
	// size of an HMAC-SHA1 block's output, as RFC 4226 recommends.
	totpKeyBytes = 20
	// totpIssuer names the portal in an authenticator app.
	totpIssuer = "Demo portal"
)

// DemoMFASecret is the base32 TOTP secret of the demo account mfaEmail, fixed so
// that tests and the demo can compute its codes (e.g. `oathtool --totp -b
// NRXWO2LOM52WC4TEFVSGK3LPFVWWMYJB`). It is the base32 of "loginguard-demo-mfa!".
const DemoMFASecret = "NRXWO2LOM52WC4TEFVSGK3LPFVWWMYJB"

// totpEncoding is the base32 of TOTP secrets: RFC 4648's alphabet without padding,
// as in otpauth:// URIs.
var totpEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// decodeTOTPSecret decodes a base32 secret, ignoring case, spaces and padding as
// people copy them.
func decodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	key, err := totpEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding TOTP secret: %w", err)
	}
	return key, nil
}

// newTOTPKey returns a new random secret.
func newTOTPKey() ([]byte, error) {
	key := make([]byte, totpKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating TOTP secret: %w", err)
	}
	return key, nil
}

// hotp is the HMAC-based one-time password of key for counter (RFC 4226 section
// 5.3), with the given number of digits, zero-padded.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpCounter is the number of whole steps between the Unix epoch and t.
func totpCounter(t time.Time) uint64 {
	return uint64(t.Unix()) / uint64(totpStep/time.Second)
}

// totpCode is the 6-digit code of key at time t.
func totpCode(key []byte, t time.Time) string {
	return hotp(key, totpCounter(t), totpDigits)
}

// verifyTOTP reports whether code is key's code for the step of now or one step
// before or after it, comparing in constant time (a code of another length never
// matches). The same code is accepted again within its window: the demo portal
// does not remember used codes.
func verifyTOTP(key []byte, code string, now time.Time) bool {
	counter := totpCounter(now)
	ok := 0
	for d := -totpSkew; d <= totpSkew; d++ {
		c := counter + uint64(int64(d))
		ok |= subtle.ConstantTimeCompare([]byte(hotp(key, c, totpDigits)), []byte(code))
	}
	return ok == 1
}

// otpauthURI is the key URI an authenticator app scans (the format of Google
// Authenticator's "Key Uri Format"): otpauth://totp/ISSUER:ACCOUNT?secret=...
func otpauthURI(key []byte, account string) string {
	q := url.Values{
		"secret":    {totpEncoding.EncodeToString(key)},
		"issuer":    {totpIssuer},
		"algorithm": {"SHA1"},
		"digits":    {fmt.Sprint(totpDigits)},
		"period":    {fmt.Sprint(int(totpStep / time.Second))},
	}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + totpIssuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}

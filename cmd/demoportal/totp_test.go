package main

import (
	"net/url"
	"testing"
	"time"
)

// rfcKey is the SHA-1 seed of RFC 4226's and RFC 6238's test vectors.
var rfcKey = []byte("12345678901234567890")

func TestHOTPMatchesRFC4226Vectors(t *testing.T) {
	// RFC 4226, Appendix D.
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, code := range want {
		if got := hotp(rfcKey, uint64(counter), 6); got != code {
			t.Errorf("hotp(counter %d) = %s, want %s", counter, got, code)
		}
	}
}

func TestTOTPMatchesRFC6238SHA1Vectors(t *testing.T) {
	// RFC 6238, Appendix B: the SHA1 rows (8 digits).
	tests := []struct {
		unix    int64
		counter uint64
		code    string
	}{
		{59, 0x1, "94287082"},
		{1111111109, 0x23523EC, "07081804"},
		{1111111111, 0x23523ED, "14050471"},
		{1234567890, 0x273EF07, "89005924"},
		{2000000000, 0x3F940AA, "69279037"},
		{20000000000, 0x27BC86AA, "65353130"},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0)
		if got := totpCounter(at); got != tt.counter {
			t.Errorf("counter at %d = %#x, want %#x", tt.unix, got, tt.counter)
		}
		if got := hotp(rfcKey, totpCounter(at), 8); got != tt.code {
			t.Errorf("8-digit code at %d = %s, want %s", tt.unix, got, tt.code)
		}
		// Six digits are the last six of eight: the same number, mod 10^6.
		if got := totpCode(rfcKey, at); got != tt.code[2:] {
			t.Errorf("6-digit code at %d = %s, want %s", tt.unix, got, tt.code[2:])
		}
		if !verifyTOTP(rfcKey, tt.code[2:], at) {
			t.Errorf("verifyTOTP refuses the code at %d", tt.unix)
		}
	}
}

func TestVerifyTOTPAcceptsOneStepEitherWay(t *testing.T) {
	// now is 1 s into step n: the codes of n-1, n and n+1 pass, n-2 and n+2 do not.
	stepStart := time.Unix(1234567890, 0).Truncate(totpStep)
	for _, now := range []time.Time{stepStart, stepStart.Add(time.Second), stepStart.Add(totpStep - time.Second)} {
		n := totpCounter(now)
		for d, want := range map[int64]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
			code := hotp(rfcKey, uint64(int64(n)+d), totpDigits)
			if got := verifyTOTP(rfcKey, code, now); got != want {
				t.Errorf("at %s, code of step %+d: verify = %v, want %v", now.Format(time.TimeOnly), d, got, want)
			}
		}
	}
	now := time.Unix(59, 0)
	code := totpCode(rfcKey, now)
	for _, bad := range []string{"", code[:5], code + "0", "0" + code, " " + code[1:], "abcdef"} {
		if verifyTOTP(rfcKey, bad, now) {
			t.Errorf("verify(%q) = true, want false", bad)
		}
	}
	if verifyTOTP([]byte("another key"), code, now) {
		t.Error("a code of one key verifies for another")
	}
	// Step 0 has no step before it: a code still verifies there.
	if !verifyTOTP(rfcKey, totpCode(rfcKey, time.Unix(3, 0)), time.Unix(3, 0)) {
		t.Error("the code of step 0 does not verify")
	}
}

func TestDemoMFASecret(t *testing.T) {
	key, err := decodeTOTPSecret(DemoMFASecret)
	if err != nil || string(key) != "loginguard-demo-mfa!" {
		t.Fatalf("DemoMFASecret decodes to %q, %v", key, err)
	}
	// As people copy secrets: lower case, in groups, padded.
	for _, s := range []string{"nrxwo2lom52wc4tefvsgk3lpfvwwmyjb", "NRXW O2LO M52W C4TE FVSG K3LP FVWW MYJB", "GEZDGNBVGY======"} {
		if _, err := decodeTOTPSecret(s); err != nil {
			t.Errorf("decodeTOTPSecret(%q): %v", s, err)
		}
	}
	if _, err := decodeTOTPSecret("not base32!"); err == nil {
		t.Error("decodeTOTPSecret accepts a non-base32 secret")
	}
}

func TestOTPAuthURI(t *testing.T) {
	uri := otpauthURI(rfcKey, "new@example.com")
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Demo portal:new@example.com" {
		t.Errorf("URI %s: scheme %q host %q path %q", uri, u.Scheme, u.Host, u.Path)
	}
	q := u.Query()
	key, err := decodeTOTPSecret(q.Get("secret"))
	if err != nil || string(key) != string(rfcKey) {
		t.Errorf("URI %s: secret decodes to %q, %v", uri, key, err)
	}
	for k, want := range map[string]string{"issuer": "Demo portal", "algorithm": "SHA1", "digits": "6", "period": "30"} {
		if got := q.Get(k); got != want {
			t.Errorf("URI %s: %s = %q, want %q", uri, k, got, want)
		}
	}
}

package policy

import (
	"strconv"

	"github.com/loginguard/loginguard/event"
)

// Error types: Spring Security exception class names, in the style of the errorType
// of the connector event.
const (
	ErrorTypeBadCredentials        = "org.springframework.security.authentication.BadCredentialsException"
	ErrorTypeUsernameNotFound      = "org.springframework.security.core.userdetails.UsernameNotFoundException"
	ErrorTypeDisabled              = "org.springframework.security.authentication.DisabledException"
	ErrorTypeLocked                = "org.springframework.security.authentication.LockedException"
	ErrorTypeAccountStatus         = "org.springframework.security.authentication.AccountStatusException"
	ErrorTypeInsufficientAuth      = "org.springframework.security.authentication.InsufficientAuthenticationException"
	ErrorTypeAuthenticationService = "org.springframework.security.authentication.AuthenticationServiceException"
	ErrorTypeAuthentication        = "org.springframework.security.core.AuthenticationException"
)

// Messages of the login-log page and the connector event.
const (
	messageBadCredentials  = "Bad credentials"
	messageAccountNotFound = "Authentication failed -> Account not found"
	messageFailedPrefix    = "Authentication failed -> "
)

// Describe returns the event's message and errorType for a failure. identity is the
// email (portal) or username (manager); failures is the account's counted failures after this attempt.
//
// The wording is that of the login-log page and the connector event:
//
//   - BAD_CREDENTIALS on a portal route: "Account <identity> failed authentication due to
//     <failures> failed login attempts"; on a manager route, or without an identity:
//     "Bad credentials".
//   - ACCOUNT_NOT_FOUND: "Authentication failed -> Account not found".
//   - every other reason: "Authentication failed -> <REASON>".
//
// A reason that is not one of event.Reasons (or empty) is described as UNKNOWN. The
// identity is passed through Clean. Apart from the portal's BAD_CREDENTIALS message, the
// results are constants and Describe does not allocate.
func Describe(r event.Reason, src event.Source, identity string, failures int) (message, errorType string) {
	switch r {
	case event.BadCredentials:
		identity = Clean(identity)
		if src == event.SourceManager || identity == "" {
			return messageBadCredentials, ErrorTypeBadCredentials
		}
		return "Account " + identity + " failed authentication due to " +
			strconv.Itoa(failures) + " failed login attempts", ErrorTypeBadCredentials
	case event.AccountNotFound:
		return messageAccountNotFound, ErrorTypeUsernameNotFound
	case event.Disabled:
		return messageFailedPrefix + string(event.Disabled), ErrorTypeDisabled
	case event.WaitingForApprovement:
		return messageFailedPrefix + string(event.WaitingForApprovement), ErrorTypeAccountStatus
	case event.ConfirmationNeeded:
		return messageFailedPrefix + string(event.ConfirmationNeeded), ErrorTypeAccountStatus
	case event.Rejected:
		return messageFailedPrefix + string(event.Rejected), ErrorTypeAccountStatus
	case event.NotApproved:
		return messageFailedPrefix + string(event.NotApproved), ErrorTypeAccountStatus
	case event.MFARequired:
		return messageFailedPrefix + string(event.MFARequired), ErrorTypeInsufficientAuth
	case event.MFAFailed:
		return messageFailedPrefix + string(event.MFAFailed), ErrorTypeBadCredentials
	case event.Locked:
		return messageFailedPrefix + string(event.Locked), ErrorTypeLocked
	case event.RateLimited:
		return messageFailedPrefix + string(event.RateLimited), ErrorTypeAuthenticationService
	case event.UpstreamError:
		return messageFailedPrefix + string(event.UpstreamError), ErrorTypeAuthenticationService
	case event.AmbiguousPrincipal:
		return messageFailedPrefix + string(event.AmbiguousPrincipal), ErrorTypeAuthentication
	case event.MissingPrincipal:
		return messageFailedPrefix + string(event.MissingPrincipal), ErrorTypeAuthentication
	case event.BreachedPassword:
		return messageFailedPrefix + string(event.BreachedPassword), ErrorTypeBadCredentials
	default:
		return messageFailedPrefix + string(event.Unknown), ErrorTypeAuthentication
	}
}

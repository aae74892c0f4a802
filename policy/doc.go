// Package policy holds loginguard's pure login-route logic: it reads every principal a
// login request could name, the way any portal might parse it (Identify, Clean), turns
// the spellings of one account into one key (Canonical), looks values up in JSON documents by RFC
// 6901 pointer (LookupJSON), decides from the portal's response whether a login
// succeeded and why not (Compile, Classifier.Classify), and words failures as the login-log
// page and the connector event do (Describe).
//
// Everything here is safe on any input: malformed, truncated or compressed bodies give
// "nothing found", never a panic, and at most MaxBody bytes of a body are read or
// decoded. The package keeps nothing from a body but the principal it returns.
package policy

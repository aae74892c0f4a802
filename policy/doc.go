// Package policy holds loginguard's pure login-route logic: it extracts the principal
// from a login request body (Extract, Clean), looks values up in JSON documents by RFC
// 6901 pointer (LookupJSON), decides from the portal's response whether a login
// succeeded and why not (Compile, Classifier.Classify), and words failures as the seeds
// do (Describe).
//
// Everything here is safe on any input: malformed, truncated or compressed bodies give
// "nothing found", never a panic, and at most MaxBody bytes of a body are read or
// decoded. The package keeps nothing from a body but the principal it returns.
package policy

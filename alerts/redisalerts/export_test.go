package redisalerts

// Keys returns the window and last-alert keys of rule and subject.
func Keys(w *Windows, rule, subject string) (window, lastAlert string) {
	k := w.key(rule, subject)
	return k + ":w", k + ":h"
}

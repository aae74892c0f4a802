// Package geoalerts raises the alerts that an event's location and device
// allow, as identity providers do (Okta's and Auth0's "new device", "new
// country" and "impossible travel"):
//
//	rule               fires on                                         subject
//	new_country        a successful login from a country the account    the account
//	                   had no successful login from within History
//	new_device         a successful login from a device class the       the account
//	                   account had no successful login from within
//	                   History
//	impossible_travel  a successful login whose distance from the       the account
//	                   account's previous located successful login,
//	                   less both accuracy radii, over the time between
//	                   them, is faster than MaxSpeed
//	many_asns          a failed login that makes ASNThreshold distinct  the account
//	                   autonomous systems failing on one account
//	                   within ASNWindow
//
// Each rule then stays quiet for that account for its cooldown (default 1h),
// so one attack gives one alert.
//
// # What counts
//
// An account is an event's principal when it has one, else its email
// (compared ignoring case), within one source (API_MANAGER or API_PORTAL): the
// account of event.Event.Identity.
//
// A device class is "deviceType/OS/browser" of the event's user agent
// (event.Device), e.g. "desktop/Windows/Chrome": the browser family and the
// operating system without versions, so that a browser update is not a new
// device. An event whose user agent says nothing (all three empty) has no
// class; a part that is unknown stays empty ("/Linux/curl").
//
// A user's first login is not new: new_country (new_device) fires only when
// the account has at least one earlier successful login within History with a
// known country (device class), and none with this one. An account seen for
// the first time, or whose earlier logins predate the GeoIP database, gives no
// alert.
//
// impossible_travel compares a successful login with the account's latest
// earlier successful login that has coordinates. The distance is the
// great-circle distance less both accuracy radii; it never fires when either
// login has no coordinates or when that distance is zero or less (the two
// places may be one).
//
// many_asns counts only the failures that guess at an account
// (logstore.GuessingReasons: a wrong password, an unknown account, a refusal
// of a locked account, a failed MFA, an ambiguous principal, a refused
// breached password) whose ASN is
// known. The failure that reaches the threshold counts.
//
// "Earlier" means strictly earlier, at the store's millisecond precision, and
// never the event itself: the log store writes events asynchronously, so the
// event being judged may already be stored or not; it is left out by its id
// and by its date, and the answer is the same either way.
//
// # Where the history is
//
// The history is the log store's (logstore.Store), so that a fleet of Caddy
// instances sharing one PostgreSQL agrees: for an account it has no fresh
// summary of, the stage reads the account's newest MaxHistory successful
// logins within History (or failures within ASNWindow) from the store. It
// keeps a bounded LRU cache of CacheSize per-account summaries (countries,
// device classes, the latest location, the ASNs that failed, each with the
// time last seen), updated by the events it sees, and trusts a summary read
// from the store for CacheTTL.
//
// What the cache may miss is what other instances saw since it was read.
// So new_country, new_device and impossible_travel read the store again
// before they fire (unless they just did): a login another instance saw is
// never taken for a new one. many_asns reads the store whenever a failure
// comes from an ASN the summary does not hold: the ASNs other instances saw
// count at once, and an attack costs at most ASNThreshold reads per account
// and window. The one thing a fleet may miss is impossible_travel from a
// login another instance saw less than CacheTTL after this one last read the
// account's history (set cache_ttl lower to narrow it; every event then
// costs a read).
//
// Before it fires, a rule also looks in the store for an ALERT of the same
// rule for the account within the cooldown, so that instances that share a
// store alert once (two instances deciding in the same instant may both
// alert). Events the store has not written yet are unknown to other
// instances; an instance knows its own from the events it sees.
//
// # Never in the way
//
// The stage is a connectors.AsyncStage: Observe only copies the event into a
// bounded queue (QueueSize) and returns; when the queue is full the event is
// dropped for the alerts (not for the store) and counted (Stats.Dropped).
// One goroutine of the stage reads the store and reports the alerts as ALERT
// events, dated as the login that fired them. Close stops that goroutine,
// cancelling its store query, and waits for it; events still queued are
// counted as dropped.
package geoalerts

package redisstate

import (
	"hash/crc32"
	"strconv"
)

// Buckets is the number of hash-tag buckets the accounts are spread over. It is
// part of the key format: changing it moves every account to other keys.
const Buckets = 1024

// Key layout, for a prefix P (default "loginguard:"):
//
//	P{bN}:a:<account>   one account's state (a string, see lua/account.lua), N = crc32(account) mod Buckets
//	P{bN}:locked        the accounts of bucket N that are locked (a sorted set,
//	                    scored by the end of the lock, +inf for permanent locks);
//	                    a lock that ran out stays until EndedLocks takes it
//	P{bN}:ended         locks of bucket N that ran out and whose index entry was
//	                    replaced or removed before EndedLocks took it (a sorted
//	                    set scored by the end)
//	Psession:<hash>     a login session behind a cookie hash, live or the
//	                    tombstone of an ended one (a string: the JSON of
//	                    storedSession, see sessions.go)
//	P{sessions}:seen    every session put, scored by its LastSeen as filed
//	                    (corrected by ExpiredSessions), ms
//	P{sessions}:login   the same, scored by LoginAt
//	P{sessions}:exp     the same, scored by the expiry of its ttl; the three
//	                    share a hash tag and are hints, checked against the
//	                    session key: an entry goes when ExpiredSessions finds
//	                    its session ended, gone or ended by it, or, once its
//	                    ttl ran out, at the next put or ExpiredSessions
//	P{bN}:sessions:<account>  the hashes of account's sessions (a sorted set
//	                    scored by the expiry of their ttl; N as for the
//	                    account's state), also hints that AccountSessions
//	                    checks and prunes
//	Palias:<name>       the account a spelling is an alias of ("<expiry ms>|<account>")
//	Pblocks             blocked IP ranges (a hash), see Block
//
// The hash tag is the bucket, not the account name: an account's state and its
// bucket's index of locked accounts share a Redis Cluster slot, so the script
// that locks an account also files it in the index in the same atomic step. The
// account name follows the tag, so no name, whatever braces it holds, can move
// the tag: Redis Cluster hashes only what is between the first "{" and the
// first "}" after it, and the prefix may not contain braces.

// bucket returns the hash tag of account, braces included.
func bucket(account string) string {
	return "{b" + strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(account))%Buckets), 10) + "}"
}

func (s *Store) accountKey(account string) string {
	return s.prefix + bucket(account) + ":a:" + account
}

// lockKeys returns the keys of the scripts that may lock or unlock account:
// its state, its bucket's index of locked accounts and its bucket's ended locks.
func (s *Store) lockKeys(account string) []string {
	b := s.prefix + bucket(account)
	return []string{b + ":a:" + account, b + ":locked", b + ":ended"}
}

// bucketKeys returns the key named suffix ("locked", "ended") of every bucket,
// in bucket order.
func (s *Store) bucketKeys(suffix string) []string {
	keys := make([]string, Buckets)
	for i := range keys {
		keys[i] = s.prefix + "{b" + strconv.Itoa(i) + "}:" + suffix
	}
	return keys
}

func (s *Store) aliasKey(name string) string {
	return s.prefix + "alias:" + name
}

func (s *Store) sessionKey(hash string) string {
	return s.prefix + "session:" + hash
}

// sessionIndexKeys returns the indexes of sessions by LastSeen, by LoginAt and
// by expiry, in that order (the order of the session scripts' KEYS).
func (s *Store) sessionIndexKeys() []string {
	b := s.prefix + "{sessions}:"
	return []string{b + "seen", b + "login", b + "exp"}
}

func (s *Store) accountSessionsKey(account string) string {
	return s.prefix + bucket(account) + ":sessions:" + account
}

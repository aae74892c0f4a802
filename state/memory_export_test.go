package state

// StoredFailures returns how many failure times m keeps for account, for tests.
func (m *Memory) StoredFailures(account string) int {
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.byName[account]; a != nil {
		return len(a.failures)
	}
	return 0
}

package bolt

// Crash closes the store as a killed process leaves it: what was queued is
// written, but the file is not marked clean.
func (s *Store) Crash() error { return s.close(false) }

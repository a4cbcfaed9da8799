package persistence

// Test-only access for the external test package (pebble_test.go), which cannot be
// an internal test because it imports persistencetest, which imports this package.

var (
	EncodeRecord = encodeRecord
	DecodeRecord = decodeRecord
	ErrCorrupt   = errCorrupt
)

// SetRaw writes raw bytes as kind/key's stored value, bypassing the encoder.
func (s *PebbleStore) SetRaw(kind, key string, raw []byte) error {
	k, err := recordKey(kind, key)
	if err != nil {
		return err
	}
	return s.db.Set(k, raw, s.wo)
}

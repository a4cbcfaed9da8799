package directory

import "context"

// SetUserPasswordHash replaces the user's password with an Argon2id PHC hash made by
// HashPassword: the Experience API's ForgotPassword flow hashes the new password when
// it is staged (PUT /api/experience/profile/password) and writes it at submit, so the
// plaintext never outlives its request.
func (d *Directory) SetUserPasswordHash(ctx context.Context, id, passwordHash string) (*User, error) {
	if _, err := parsePHC(passwordHash); err != nil {
		return nil, invalid("passwordHash", "is not an Argon2id hash")
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.updateUser(ctx, id, func(u *User) error {
		u.PasswordHash, u.PasswordAlgorithm = passwordHash, ""
		return nil
	})
}

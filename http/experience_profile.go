package httpapi

import (
	"context"
	"net/http"
	"regexp"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// profileBody is Logto's UpdateProfileApiPayload for the types Latch supports:
// {"type": "username", "value": "..."} and {"type": "password", "value": "..."}.
type profileBody struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// usernamePattern is Logto's usernameRegEx, the same rule the directory enforces.
var usernamePattern = regexp.MustCompile(`^[A-Z_a-z]\w*$`)

// postProfile is POST /api/experience/profile: stage a Register profile field.
func (x *experience) postProfile(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, _, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body profileBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if err := x.setProfile(r.Context(), uid, body); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// setProfile validates one profile field and stages it on the interaction. Only a
// Register interaction takes profile fields here (Logto also lets a signed-in user fill
// in missing ones; Latch asks for none).
func (x *experience) setProfile(ctx context.Context, uid string, body profileBody) error {
	rec, err := x.s.browser.Interactions.Interaction(ctx, uid)
	if err != nil {
		return grainError(err)
	}
	if rec.Event != eventRegister {
		return apiErr(http.StatusBadRequest, "session.invalid_interaction_type", msgInvalidInteraction)
	}
	username, hash := rec.ProfileUsername, rec.ProfilePasswordHash
	switch body.Type {
	case identifierUsername:
		if err := x.checkNewUsername(body.Value); err != nil {
			return err
		}
		username = body.Value
	case "password":
		// The sign-in experience's password policy (mgmt_signinexp.go), with the
		// username, email and phone staged so far as the user's own information.
		info := directory.PasswordUserInfo{Username: username}
		info.Email, info.PhoneNumber = stagedCodeIdentifiers(rec) // experience_register.go
		if err := x.s.enforcePasswordPolicy(ctx, body.Value, info); err != nil {
			return err
		}
		// Hashed now with the directory's Argon2id parameters: the plaintext never
		// outlives this request (the interaction keeps only the hash).
		hash, err = x.s.dir.HashPassword(body.Value)
		if err != nil {
			return err
		}
	case "":
		return invalidInput("`type` is required")
	default:
		return invalidInput("profile `type` " + body.Type + " is not supported; use username or password")
	}
	if _, err := x.s.browser.Steps.SetProfile(ctx, uid, username, hash); err != nil {
		return grainError(err)
	}
	return nil
}

// checkNewUsername validates a username for registration: Logto's format, and free in
// the directory (checked again when the user is created).
func (x *experience) checkNewUsername(v string) error {
	if v == "" {
		return invalidInput("`value` is required")
	}
	if !usernamePattern.MatchString(v) || len(v) > 128 {
		return invalidInput("`value` must start with a letter or underscore and contain only letters, digits and underscores (at most 128)")
	}
	if _, taken := x.s.dir.UserByUsername(v); taken {
		return apiErr(http.StatusUnprocessableEntity, "user.username_already_in_use", msgUsernameInUse)
	}
	return nil
}

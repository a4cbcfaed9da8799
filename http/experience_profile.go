package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/hooks"
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

// eventUserDataUpdated is Logto's data hook event of a changed user.
const eventUserDataUpdated = "User.Data.Updated"

// dataHooked wraps an Experience API step that may change the identified user's data
// so that a successful one emits User.Data.Updated, as Logto's experience hooks do
// (appendDataHookContext with the updated user): the payload is the interaction's
// metadata (interactionEvent, sessionId, applicationId, userAgent, ip) and data, the
// user. Logto emits it at submit for a password reset, and for a sign-in that bound an
// MFA factor; Latch binds the factor at POST /api/experience/profile/mfa, and emits it
// there. A step notes the change with noteStep(ctx).userDataUpdated.
func (x *experience) dataHooked(h apiHandler) apiHandler {
	s := x.s
	if s.webhooks == nil {
		return h
	}
	return func(r *http.Request, p httprouter.Params) (int, any, error) {
		if !s.webhooks.Wants(eventUserDataUpdated) {
			return h(r, p)
		}
		st := noteStep(r.Context())
		if st == nil {
			st = &stepLog{}
			r = r.WithContext(context.WithValue(r.Context(), stepLogKey{}, st))
		}
		status, body, err := h(r, p)
		if err != nil || status >= 400 || st.updatedUser == "" {
			return status, body, err
		}
		s.emitUserDataUpdated(r, st.updatedUser, hooks.Payload{
			InteractionEvent: st.event, SessionID: st.sessionID, ApplicationID: st.applicationID,
		})
		return status, body, err
	}
}

// formDataHooked is dataHooked for a JavaScript-free page that may bind an MFA factor
// during a sign-in (the form posts of /mfa-binding/*): such a page answers itself, so
// the event is queued when the step notes the change, before the page is answered.
func (x *experience) formDataHooked(h httprouter.Handle) httprouter.Handle {
	s := x.s
	if s.webhooks == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if !s.webhooks.Wants(eventUserDataUpdated) {
			h(w, r, p)
			return
		}
		st := &stepLog{}
		r = r.WithContext(context.WithValue(r.Context(), stepLogKey{}, st))
		st.emitNow = func(id string) {
			s.emitUserDataUpdated(r, id, hooks.Payload{
				InteractionEvent: st.event, SessionID: st.sessionID, ApplicationID: st.applicationID,
			})
		}
		h(w, r, p)
	}
}

// emitUserDataUpdated queues User.Data.Updated for the user with id as it is now:
// base's fields, the request's userAgent and ip, and data, the user in Logto's
// userInfoSelectFields (as the Management API answers it).
func (s *Server) emitUserDataUpdated(r *http.Request, id string, base hooks.Payload) {
	u, ok := s.dir.User(id)
	if !ok {
		return
	}
	base.Event, base.UserAgent, base.IP = eventUserDataUpdated, r.UserAgent(), clientIP(r)
	base.Data, _ = json.Marshal(userView(u))
	s.webhooks.Emit(r.Context(), base)
}

// noteSignIn sets the user's lastSignInAt to now, as Logto's submit does for a
// sign-in and a registration (updateUserById(..., {lastSignInAt: Date.now()})). It is
// best effort: a directory that cannot take the write (no quorum) does not fail a
// sign-in that has already been accepted; the failure is logged.
func (x *experience) noteSignIn(ctx context.Context, userID string) {
	now := x.s.now().UnixMilli()
	if _, err := x.s.dir.UpdateUser(ctx, userID, func(u *directory.User) error {
		u.LastSignInAt = &now
		return nil
	}); err != nil {
		x.s.log.Warn("lastSignInAt not recorded", "user", userID, "err", err)
	}
}

package httpapi

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/op"
)

// interactionEventBody is the body of PUT /api/experience and
// PUT /api/experience/interaction-event. captchaToken is accepted and ignored (Latch
// has no captcha provider).
type interactionEventBody struct {
	InteractionEvent string `json:"interactionEvent"`
	CaptchaToken     string `json:"captchaToken"`
}

// putExperience is PUT /api/experience: start a new interaction event. In Logto it
// replaces whatever the interaction held (event, verifications, identified user,
// profile); see begin.
func (x *experience) putExperience(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, err := interactionUID(r)
	if err != nil {
		return 0, nil, err
	}
	var body interactionEventBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if err := x.begin(r.Context(), uid, body.InteractionEvent); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// begin starts event afresh on the interaction uid: earlier verifications, the
// identified user and the profile are cleared, as Logto's PUT /api/experience does.
func (x *experience) begin(ctx context.Context, uid, event string) error {
	if err := x.guardEvent(event); err != nil { // experience_passwordless.go
		return err
	}
	noteStep(ctx).setEvent(event) // audit log (mgmt_logs_emit.go)
	if _, err := x.s.browser.Steps.SetEvent(ctx, uid, event, true); err != nil {
		return grainError(err)
	}
	return nil
}

// switchEvent sets the event of a started interaction, keeping its proofs (Logto's
// PUT /api/experience/interaction-event).
func (x *experience) switchEvent(ctx context.Context, uid, event string) error {
	if err := x.guardEvent(event); err != nil { // experience_passwordless.go
		return err
	}
	noteStep(ctx).setEvent(event) // audit log (mgmt_logs_emit.go)
	if _, err := x.s.browser.Steps.SetEvent(ctx, uid, event, false); err != nil {
		return grainError(err)
	}
	return nil
}

// putInteractionEvent is PUT /api/experience/interaction-event: switch an interaction
// that has started between SignIn and Register.
func (x *experience) putInteractionEvent(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, _, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body interactionEventBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if err := x.switchEvent(r.Context(), uid, body.InteractionEvent); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// interactionJSON is Logto's sanitized interaction storage (GET
// /api/experience/interaction): no password hash, no secrets.
type interactionJSON struct {
	InteractionEvent    string             `json:"interactionEvent"`
	UserID              string             `json:"userId,omitempty"`
	Profile             profileJSON        `json:"profile"`
	VerificationRecords []verificationJSON `json:"verificationRecords"`
}

type profileJSON struct {
	Username string `json:"username,omitempty"`
}

// verificationJSON is a sanitized verification record, e.g.
// {"id": "...", "type": "Password", "identifier": {"type": "username", "value": "alice"}, "verified": true}.
type verificationJSON struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Identifier *identifierJSON `json:"identifier,omitempty"`
	Verified   bool            `json:"verified"`
}

// identifierJSON is Logto's InteractionIdentifier.
type identifierJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func interactionView(rec *op.Interaction) interactionJSON {
	v := interactionJSON{
		InteractionEvent:    rec.Event,
		UserID:              rec.AccountID,
		Profile:             profileJSON{Username: rec.ProfileUsername},
		VerificationRecords: make([]verificationJSON, 0, len(rec.Verifications)),
	}
	for _, ver := range rec.Verifications {
		if ver.Type == verificationMfaSkipped {
			continue
		}
		vj := verificationJSON{ID: ver.ID, Type: ver.Type, Verified: !ver.VerifiedAt.IsZero()}
		if verified, ok := mfaRecordVerified(ver); ok {
			vj.Verified = verified
		}
		if ver.IdentifierType != "" {
			vj.Identifier = &identifierJSON{Type: ver.IdentifierType, Value: ver.IdentifierValue}
		}
		v.VerificationRecords = append(v.VerificationRecords, vj)
	}
	return v
}

// getInteraction is GET /api/experience/interaction.
func (x *experience) getInteraction(r *http.Request, _ httprouter.Params) (int, any, error) {
	_, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, interactionView(rec), nil
}

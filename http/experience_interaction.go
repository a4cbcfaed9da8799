package httpapi

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/actors/msg"
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

// interactionStarter is the Interaction grain request that starts an event afresh
// (clearing verifications, identified user and profile, as Logto's PUT
// /api/experience does). Found on the actor client by type assertion until the client
// has it; without it, begin only sets the event and earlier proofs stay.
type interactionStarter interface {
	StartInteraction(ctx context.Context, uid, event string) (*msg.InteractionRecord, error)
}

// begin starts event on the interaction uid.
func (x *experience) begin(ctx context.Context, uid, event string) error {
	if err := interactionEvent(event); err != nil {
		return err
	}
	var err error
	if st, ok := any(x.s.actors).(interactionStarter); ok {
		_, err = st.StartInteraction(ctx, uid, event)
	} else {
		_, err = x.s.actors.SetInteractionEvent(ctx, uid, event)
	}
	if err != nil {
		return grainError(err)
	}
	return nil
}

// switchEvent sets the event of a started interaction, keeping its proofs (Logto's
// PUT /api/experience/interaction-event).
func (x *experience) switchEvent(ctx context.Context, uid, event string) error {
	if err := interactionEvent(event); err != nil {
		return err
	}
	if _, err := x.s.actors.SetInteractionEvent(ctx, uid, event); err != nil {
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

func interactionView(rec *msg.InteractionRecord) interactionJSON {
	v := interactionJSON{
		InteractionEvent:    rec.GetEvent(),
		UserID:              rec.GetAccountId(),
		Profile:             profileJSON{Username: rec.GetProfileUsername()},
		VerificationRecords: make([]verificationJSON, 0, len(rec.GetVerifications())),
	}
	for _, ver := range rec.GetVerifications() {
		vj := verificationJSON{ID: ver.GetId(), Type: ver.GetType(), Verified: ver.GetVerifiedAtMs() > 0}
		if ver.GetIdentifierType() != "" {
			vj.Identifier = &identifierJSON{Type: ver.GetIdentifierType(), Value: ver.GetIdentifierValue()}
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

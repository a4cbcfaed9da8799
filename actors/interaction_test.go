package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestInteraction(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	uid := newID(t)
	mustRec := must[*msg.InteractionRecord](t)

	// Absent.
	_, err := c.Interaction(ctx, uid)
	wantErr(t, err, CodeSessionNotFound, 404)
	_, err = c.SetInteractionEvent(ctx, uid, InteractionEventSignIn)
	wantErr(t, err, CodeSessionNotFound, 404)
	_, err = c.ConsumeInteraction(ctx, uid)
	wantErr(t, err, CodeSessionNotFound, 404)
	_, err = c.Interaction(ctx, "")
	wantErr(t, err, CodeSessionNotFound, 404)

	// Create: 1 h from creation; the uid is the key.
	before := time.Now()
	rec := mustRec(c.CreateInteraction(ctx, &msg.InteractionRecord{
		Uid:     uid,
		Request: &msg.AuthRequest{ClientId: "app", RedirectUri: "https://app/cb", Scopes: []string{"openid"}},
	}))
	if rec.GetUid() != uid || rec.GetExpiresAtMs()-rec.GetCreatedAtMs() != oidcflow.DefaultLifetimes().Interaction.Milliseconds() ||
		rec.GetCreatedAtMs() < before.UnixMilli() || rec.GetRequest().GetClientId() != "app" {
		t.Fatalf("created %v", rec)
	}
	_, err = c.CreateInteraction(ctx, &msg.InteractionRecord{Uid: uid})
	wantErr(t, err, oauth.CodeInvalidRequest, 409)
	if got := mustRec(c.Interaction(ctx, uid)); got.GetRequest().GetRedirectUri() != "https://app/cb" {
		t.Fatalf("read back %v", got)
	}

	// Identification needs an event first.
	_, err = c.Identify(ctx, uid, "", "user-1")
	wantErr(t, err, CodeInteractionNotFound, 404)

	// Events.
	_, err = c.SetInteractionEvent(ctx, uid, "Dance")
	wantErr(t, err, CodeGuardInvalidInput, 400)
	rec = mustRec(c.SetInteractionEvent(ctx, uid, InteractionEventRegister))
	rec = mustRec(c.SetInteractionEvent(ctx, uid, InteractionEventSignIn))
	if rec.GetEvent() != InteractionEventSignIn {
		t.Fatalf("event %q", rec.GetEvent())
	}
	_, err = c.SetInteractionEvent(ctx, uid, InteractionEventForgotPassword)
	wantErr(t, err, CodeNotSupportedForForgotPassword, 400)

	// Verifications: a proof of the same type replaces the previous one.
	_, err = c.AddVerification(ctx, uid, &msg.Verification{Type: "Password"})
	wantErr(t, err, CodeGuardInvalidInput, 400)
	mustRec(c.AddVerification(ctx, uid, &msg.Verification{Id: "v1", Type: "Password", UserId: "user-0"}))
	rec = mustRec(c.AddVerification(ctx, uid, &msg.Verification{Id: "v2", Type: "Password", UserId: "user-1"}))
	mustRec(c.AddVerification(ctx, uid, &msg.Verification{Id: "v3", Type: "VerificationCode"}))
	rec = mustRec(c.Interaction(ctx, uid))
	ids := []string{}
	for _, v := range rec.GetVerifications() {
		ids = append(ids, v.GetId())
		if v.GetVerifiedAtMs() == 0 {
			t.Errorf("verification %s has no verified_at_ms", v.GetId())
		}
	}
	if !slices.Equal(ids, []string{"v2", "v3"}) {
		t.Fatalf("verifications %v, want v2 v3", ids)
	}

	// Submit and consume need an identified user.
	_, err = c.SubmitInteraction(ctx, uid, time.Time{}, nil)
	wantErr(t, err, CodeIdentifierNotFound, 404)
	_, err = c.ConsumeInteraction(ctx, uid)
	wantErr(t, err, CodeInteractionNotSubmitted, 400)

	// Identify.
	_, err = c.Identify(ctx, uid, "nope", "")
	wantErr(t, err, CodeVerificationSessionNotFound, 404)
	_, err = c.Identify(ctx, uid, "v3", "")
	wantErr(t, err, CodeUserNotExist, 404)
	_, err = c.Identify(ctx, uid, "", "")
	wantErr(t, err, CodeGuardInvalidInput, 400)
	if rec = mustRec(c.Identify(ctx, uid, "v2", "")); rec.GetAccountId() != "user-1" {
		t.Fatalf("identified %q, want user-1", rec.GetAccountId())
	}
	mustRec(c.Identify(ctx, uid, "", "user-1")) // the same user again is fine
	_, err = c.Identify(ctx, uid, "", "user-2")
	wantErr(t, err, CodeIdentityConflict, 409)

	// Profile fields: empty arguments keep a field.
	mustRec(c.SetInteractionProfile(ctx, uid, "alice", ""))
	rec = mustRec(c.SetInteractionProfile(ctx, uid, "", "$argon2id$..."))
	if rec.GetProfileUsername() != "alice" || rec.GetProfilePasswordHash() != "$argon2id$..." {
		t.Fatalf("profile %q %q", rec.GetProfileUsername(), rec.GetProfilePasswordHash())
	}

	// Submit, then a one-time consume.
	loginAt := time.UnixMilli(time.Now().UnixMilli())
	rec = mustRec(c.SubmitInteraction(ctx, uid, loginAt, []string{"pwd"}))
	if !rec.GetSubmitted() || rec.GetLoginAtMs() != loginAt.UnixMilli() || !slices.Equal(rec.GetAmr(), []string{"pwd"}) {
		t.Fatalf("submitted %v", rec)
	}
	rec = mustRec(c.ConsumeInteraction(ctx, uid))
	if rec.GetAccountId() != "user-1" || !rec.GetSubmitted() {
		t.Fatalf("consumed %v", rec)
	}
	_, err = c.ConsumeInteraction(ctx, uid)
	wantErr(t, err, CodeSessionNotFound, 404)
	_, err = c.Interaction(ctx, uid)
	wantErr(t, err, CodeSessionNotFound, 404)
}

func TestInteractionExpiry(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)

	// An interaction created (by the caller's clock) almost an hour ago.
	uid := newID(t)
	created := time.Now().Add(-oidcflow.DefaultLifetimes().Interaction + 300*time.Millisecond)
	must[*msg.InteractionRecord](t)(c.CreateInteraction(ctx, &msg.InteractionRecord{Uid: uid, CreatedAtMs: created.UnixMilli()}))
	must[*msg.InteractionRecord](t)(c.Interaction(ctx, uid))
	waitFor(t, 5*time.Second, "the interaction to expire", func() bool {
		_, err := c.Interaction(ctx, uid)
		return err != nil
	})
	_, err := c.SetInteractionEvent(ctx, uid, InteractionEventSignIn)
	wantErr(t, err, CodeSessionNotFound, 404)
	// After expiry the uid is free again.
	must[*msg.InteractionRecord](t)(c.CreateInteraction(ctx, &msg.InteractionRecord{Uid: uid}))

	// Created more than its TTL ago: refused.
	_, err = c.CreateInteraction(ctx, &msg.InteractionRecord{Uid: newID(t), CreatedAtMs: time.Now().Add(-2 * time.Hour).UnixMilli()})
	wantErr(t, err, CodeGuardInvalidInput, 400)
	_, err = c.CreateInteraction(ctx, &msg.InteractionRecord{})
	wantErr(t, err, CodeGuardInvalidInput, 400)
}

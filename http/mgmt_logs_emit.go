package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
)

// The audit log emit points (Config.AuditLog; nil records nothing). Each builds one
// audit.Entry, a plain value, and hands it to AuditLog.Record, which never blocks:
// the encoding and the write happen on the audit writer's goroutine.

// requestParty fills the request's source of e: the connection's IP (X-Forwarded-For
// is not trusted, see requestSource) and the User-Agent.
func requestParty(e *audit.Entry, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	e.IP, e.UserAgent = host, r.UserAgent()
}

// auditToken records a token request as Logto's ExchangeTokenBy.<grant> log.
func (s *Server) auditToken(r *http.Request, grant string, app *directory.Application, resp *oidcflow.TokenResponse, err error) {
	e := audit.Entry{Key: audit.ExchangeKey(grant), GrantType: grant}
	requestParty(&e, r)
	if app != nil {
		e.ApplicationID = app.ID
	}
	if err != nil {
		oe, _ := protocolError(err)
		e.Result, e.Error = audit.Error, audit.ErrorInfo{Code: oe.Code, Message: oe.Description}
		s.audit.Record(e)
		return
	}
	e.Scope = resp.Scope
	if resp.AccessToken != "" {
		e.TokenTypes |= audit.AccessToken
	}
	if resp.RefreshToken != "" {
		e.TokenTypes |= audit.RefreshToken
	}
	if resp.IDToken != "" {
		e.TokenTypes |= audit.IDToken
	}
	e.UserID = resp.UserID // empty for a client's own token
	s.audit.Record(e)
}

// auditWrite wraps a Management API write (POST, PATCH, PUT, DELETE) so that it is
// recorded with its answer; reads, and every route when audit logs are off, are
// returned as they are. Logto has no audit log key for these (see
// audit.ManagementKeyPrefix).
func (s *Server) auditWrite(method string, h apiHandler) apiHandler {
	key := audit.ManagementKey(method)
	if s.audit == nil || key == "" {
		return h
	}
	return func(r *http.Request, p httprouter.Params) (int, any, error) {
		status, body, err := h(r, p)
		e := audit.Entry{Key: key, Method: method, Path: r.URL.Path, Status: status}
		requestParty(&e, r)
		if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			e.Token = strings.TrimSpace(tok) // verified by management(): the actor
		}
		if err != nil {
			e.Result, e.Status = audit.Error, http.StatusInternalServerError
			e.Error = audit.ErrorInfo{Code: "unknown", Message: "internal server error"}
			var ae *APIError
			if errors.As(err, &ae) {
				e.Status, e.Error = ae.Status, audit.ErrorInfo{Code: ae.Code, Message: ae.Message}
			}
		}
		s.audit.Record(e)
		return status, body, err
	}
}

// stepLog collects what an Experience API step learned (the interaction, its event and
// user, the identifier) for the step's audit log entry. The steps note into it
// through noteStep(ctx), a no-op when the request is not logged.
type stepLog struct {
	event, userID, applicationID, sessionID, verificationID string
	identifier                                              audit.Identifier
	// updatedUser is the user whose data the step changed (experience_profile.go
	// emits User.Data.Updated for it); emitNow, when set (the JavaScript-free pages,
	// which answer before a wrapper could), emits it at once.
	updatedUser string
	emitNow     func(userID string)
}

type stepLogKey struct{}

func noteStep(ctx context.Context) *stepLog {
	st, _ := ctx.Value(stepLogKey{}).(*stepLog)
	return st
}

// interaction notes the interaction a step works on.
func (st *stepLog) interaction(uid string, rec *op.Interaction) {
	if st == nil || rec == nil {
		return
	}
	if st.event == "" {
		st.event = rec.Event
	}
	if st.userID == "" {
		st.userID = rec.AccountID
	}
	st.sessionID = uid
	if rec.Request != nil {
		st.applicationID = rec.Request.ClientID
	}
}

// setEvent notes the event a step sets (Logto keys the step with the new event).
func (st *stepLog) setEvent(event string) {
	if st != nil {
		st.event = event
	}
}

// user notes the user a step proved or identified.
func (st *stepLog) user(id string) {
	if st != nil {
		st.userID = id
	}
}

// userDataUpdated notes that the step changed user id's data (Logto's
// appendDataHookContext('User.Data.Updated', {user})).
func (st *stepLog) userDataUpdated(id string) {
	if st == nil {
		return
	}
	st.updatedUser = id
	if st.emitNow != nil {
		st.emitNow(id)
	}
}

// userDataUpdatedIn is userDataUpdated for a step on interaction rec (noted first, for
// the event's interaction metadata).
func (st *stepLog) userDataUpdatedIn(rec *op.Interaction, id string) {
	st.interaction(rec.UID, rec)
	st.userDataUpdated(id)
}

// verification notes the identifier a password verification checked and, once it
// passed, the verification's id.
func (st *stepLog) verification(ident identifierJSON, id string) {
	if st != nil {
		st.identifier = audit.Identifier{Type: ident.Type, Value: ident.Value}
		st.verificationID = id
	}
}

// logged wraps an Experience API step so that it is recorded as Logto's
// Interaction.<event>.<action> log (action e.g. "Submit", "Identifier.Submit",
// "Verification.Password.Submit"). A step that failed before its interaction event was
// known (no interaction cookie, a malformed body) is not recorded, as Logto's guards
// reject such a request before its log is created.
func (x *experience) logged(action string, h apiHandler) apiHandler {
	if x.s.audit == nil {
		return h
	}
	return func(r *http.Request, p httprouter.Params) (int, any, error) {
		st := &stepLog{}
		status, body, err := h(r.WithContext(context.WithValue(r.Context(), stepLogKey{}, st)), p)
		if st.event == "" {
			return status, body, err
		}
		e := audit.Entry{
			Key:           "Interaction." + st.event + "." + action,
			UserID:        st.userID,
			ApplicationID: st.applicationID, SessionID: st.sessionID,
			InteractionEvent: st.event, Identifier: st.identifier, VerificationID: st.verificationID,
		}
		requestParty(&e, r)
		if err != nil {
			e.Result, e.Error = audit.Error, audit.ErrorInfo{Code: "unknown", Message: "internal server error"}
			var ae *APIError
			if errors.As(err, &ae) {
				e.Error = audit.ErrorInfo{Code: ae.Code, Message: ae.Message}
			}
		}
		x.s.audit.Record(e)
		return status, body, err
	}
}

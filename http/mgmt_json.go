package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/persistence"
)

// mgmtMaxBody bounds a Management API request body.
const mgmtMaxBody = 1 << 20

// tenantID is Logto OSS's single tenant.
const tenantID = "default"

// decodeBody decodes the JSON object in r's body into v. An empty body is {}.
// Unknown fields are ignored (Logto's guards strip them); malformed JSON, a body that
// is not an object, and wrong field types are a 400 guard.invalid_input, never a 500.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, mgmtMaxBody+1))
	if err != nil {
		return invalidInput("the request body could not be read")
	}
	if len(body) > mgmtMaxBody {
		return invalidInput(fmt.Sprintf("the request body exceeds %d bytes", mgmtMaxBody))
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return invalidInput("the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return invalidInput(jsonErrorMessage(err))
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return invalidInput("unexpected data after the JSON body")
	}
	return nil
}

// jsonErrorMessage describes a decoding error without echoing the whole input.
func jsonErrorMessage(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := "a JSON object"
		if te.Type != objectType {
			want = te.Type.String()
		}
		if te.Field != "" {
			return fmt.Sprintf("invalid value for `%s`: expected %s, got %s", te.Field, want, te.Value)
		}
		return fmt.Sprintf("invalid value: expected %s, got %s", want, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON body"
	}
	return "the request body is invalid"
}

func invalidInput(msg string) *APIError {
	return apiErr(http.StatusBadRequest, "guard.invalid_input", msg)
}

// opt is an optional JSON field for PATCH bodies: Set when the key is present, Null
// when its value is null.
type opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// jsonObjectRaw is a raw JSON value that must be an object (or null when nullable).
type jsonObjectRaw json.RawMessage

// objectType is what a jsonObjectRaw reports it expected; the decoder adds the field
// name to the *json.UnmarshalTypeError.
var objectType = reflect.TypeFor[map[string]any]()

func (j *jsonObjectRaw) UnmarshalJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || (t[0] != '{' && string(t) != "null") {
		got := "value"
		switch {
		case len(t) == 0:
		case t[0] == '[':
			got = "array"
		case t[0] == '"':
			got = "string"
		case t[0] == 't' || t[0] == 'f':
			got = "bool"
		default:
			got = "number"
		}
		return &json.UnmarshalTypeError{Value: got, Type: objectType}
	}
	*j = append((*j)[:0], t...)
	return nil
}

// objectOrEmpty renders nil/empty JSON as {} (Logto's jsonb columns default to {}).
func objectOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

// mergeObject applies a top-level JSON merge (Logto's jsonb "||", used by its PATCH
// routes): keys of patch replace those of base. Both are JSON objects or empty.
func mergeObject(base json.RawMessage, patch jsonObjectRaw) (json.RawMessage, error) {
	if string(patch) == "null" {
		return nil, nil
	}
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(base)) > 0 {
		if err := json.Unmarshal(base, &m); err != nil {
			return nil, err
		}
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	for k, v := range p {
		m[k] = v
	}
	return json.Marshal(m)
}

// listOf writes items as a Logto list. Routes with optional paging (Logto's
// koaPagination({isOptional: true})) return every item, without paging headers, when
// neither page nor page_size is given; otherwise the page and Total-Number / Link.
func listOf[E, V any](r *http.Request, items []E, optionalPaging bool, view func(E) V) (int, any, error) {
	q := r.URL.Query()
	if optionalPaging && q.Get("page") == "" && q.Get("page_size") == "" {
		return http.StatusOK, mapSlice(items, view), nil
	}
	pageNo, size, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	pg := paginate(items, pageNo, size)
	pg.Items = mapSlice(pg.Items.([]E), view)
	return http.StatusOK, pg, nil
}

func mapSlice[E, V any](items []E, view func(E) V) []V {
	out := make([]V, len(items))
	for i, e := range items {
		out[i] = view(e)
	}
	return out
}

// mgmtError turns a directory error into Logto's error code and status; anything
// else is returned as is (serveAPI logs it and answers a generic 500).
func mgmtError(err error) error {
	var (
		nf  *directory.NotFoundError
		ce  *directory.ConflictError
		ie  *directory.InvalidError
		pe  *directory.PhoneError
		rte *directory.RoleTypeError
		aae *directory.AdminAppError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, directory.ErrUnavailable):
		return errDirectoryUnavailable()
	case errors.Is(err, persistence.ErrConflict):
		// The entity changed between this request's read and its write (another
		// request, on this node or another, won): nothing was written.
		return apiErr(http.StatusConflict, "entity.version_conflict",
			"The entity was changed by another request meanwhile; nothing was written. Reload it and retry.")
	case errors.As(err, &nf):
		switch nf.Entity {
		case directory.EntityRoleScope, directory.EntityUserRole, directory.EntityAppRole, directory.EntitySecret:
			return apiErr(http.StatusNotFound, "entity.not_found", fmt.Sprintf("The %s `%s` does not exist.", nf.Entity, nf.ID))
		}
		return apiErr(http.StatusNotFound, "entity.not_exists_with_id", fmt.Sprintf("The %s with ID `%s` does not exist.", nf.Entity, nf.ID))
	case errors.As(err, &ce):
		return conflictError(ce)
	case errors.As(err, &pe):
		return apiErr(http.StatusUnprocessableEntity, "user.invalid_phone", "The phone number is invalid.")
	case errors.As(err, &ie):
		e := invalidInput(fmt.Sprintf("invalid `%s`: %s", ie.Field, ie.Message))
		e.Data = map[string]string{"field": ie.Field}
		return e
	case errors.As(err, &rte):
		switch {
		case rte.Subject == directory.EntityUser:
			return apiErr(http.StatusUnprocessableEntity, "user.invalid_role_type", "Invalid role type, can not assign machine-to-machine role to user.")
		case rte.RoleID == "":
			return apiErr(http.StatusUnprocessableEntity, "application.invalid_type", "Only machine to machine applications can have associated roles.")
		}
		return apiErr(http.StatusUnprocessableEntity, "application.invalid_role_type", "Can not assign user type role to machine to machine application.")
	case errors.As(err, &aae):
		// Logto has no admin application of its own in OSS; the codes follow its
		// resource.cannot_delete_management_api (400).
		switch aae.Op {
		case directory.AdminAppDelete:
			return apiErr(http.StatusBadRequest, "application.cannot_delete_admin_app",
				"The admin application created by Latch cannot be deleted: its credentials are how operators reach the Management API.")
		case directory.AdminAppLastSecret:
			return apiErr(http.StatusBadRequest, "application.cannot_delete_admin_app_secret",
				"The admin application created by Latch must keep at least one client secret: add another before deleting this one.")
		}
		return apiErr(http.StatusBadRequest, "application.cannot_remove_admin_app_access",
			fmt.Sprintf("The admin application created by Latch must keep a role with the Management API scope `%s`; role `%s` is its last one.", directory.ManagementAPIScopeAll, aae.RoleID))
	case errors.Is(err, directory.ErrLegacyPasswordFormat):
		return apiErr(http.StatusBadRequest, "password.invalid_legacy_password_format", "Invalid legacy password format.")
	case errors.Is(err, directory.ErrLegacyHashAlgorithm):
		return apiErr(http.StatusBadRequest, "password.unsupported_legacy_hash_algorithm", "Unsupported legacy hash algorithm.")
	case errors.Is(err, directory.ErrInvalidCredentials):
		return apiErr(http.StatusUnprocessableEntity, "session.invalid_credentials", "Incorrect account or password. Please check your input.")
	case errors.Is(err, directory.ErrProtected):
		return apiErr(http.StatusBadRequest, "resource.cannot_delete_management_api", "Cannot delete Logto Management API.")
	case errors.Is(err, directory.ErrManagementScopeForUser):
		return apiErr(http.StatusBadRequest, "role.management_api_scopes_not_assignable_to_user_role", "Cannot assign management API scopes to a user role.")
	}
	return err
}

func conflictError(ce *directory.ConflictError) *APIError {
	const s = http.StatusUnprocessableEntity
	switch ce.Entity + "." + ce.Field {
	case "user.username":
		return apiErr(s, "user.username_already_in_use", "This username is already in use.")
	case "user.primaryEmail":
		return apiErr(s, "user.email_already_in_use", "This email is associated with an existing account.")
	case "user.primaryPhone":
		return apiErr(s, "user.phone_already_in_use", "This phone number is associated with an existing account.")
	case "resource.indicator":
		return apiErr(s, "resource.resource_identifier_in_use", fmt.Sprintf("The API identifier %s is already in use", ce.Value))
	case "scope.name":
		return apiErr(s, "scope.name_exists", fmt.Sprintf("The scope name %s is already in use", ce.Value))
	case "role.name":
		return apiErr(s, "role.name_in_use", fmt.Sprintf("This role name %s is already in use", ce.Value))
	case directory.EntitySecret + ".name":
		return apiErr(s, "application.secret_name_exists", "Secret name already exists.")
	case directory.EntityRoleScope + ".scopeId":
		return apiErr(s, "role.scope_exists", fmt.Sprintf("The scope id %s has already been added to this role", ce.Value))
	case directory.EntityUserRole + ".userId":
		return apiErr(s, "role.user_exists", fmt.Sprintf("The user id %s is already been added to this role", ce.Value))
	case directory.EntityAppRole + ".applicationId":
		return apiErr(s, "role.application_exists", fmt.Sprintf("The application id %s is already been added to this role", ce.Value))
	}
	return apiErr(s, "entity.unique_integrity_violation", "The entity already exists. Please check the input and try again.")
}

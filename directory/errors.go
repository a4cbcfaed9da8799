package directory

import (
	"errors"
	"fmt"
)

// Sentinel errors; every typed error below matches one of them with errors.Is, so a
// caller can branch on the class and read the details with errors.As.
var (
	// ErrNotFound: the entity (or assignment) does not exist. Details: *NotFoundError.
	ErrNotFound = errors.New("directory: not found")
	// ErrConflict: a uniqueness rule is violated (username, email, phone, resource
	// indicator, scope name within a resource, role name, secret name, an existing
	// assignment). Details: *ConflictError. It is not a store version conflict: that
	// one is persistence.ErrConflict, returned wrapped after the directory reloaded the
	// record, so a retry sees the winner's state.
	ErrConflict = errors.New("directory: already in use")
	// ErrInvalid: a field has a bad value. Details: *InvalidError.
	ErrInvalid = errors.New("directory: invalid input")
	// ErrRoleType: a role cannot be assigned to that subject (a MachineToMachine role
	// to a user, a User role to an application, any role to an application that is
	// not MachineToMachine). Details: *RoleTypeError.
	ErrRoleType = errors.New("directory: role type mismatch")
	// ErrInvalidCredentials: the user has no password or the password is wrong.
	ErrInvalidCredentials = errors.New("directory: invalid credentials")
	// ErrProtected: the Management API resource and its scopes cannot be deleted, nor
	// its scopes renamed (Logto's resource.cannot_delete_management_api).
	ErrProtected = errors.New("directory: the Management API resource and its scopes are protected")
	// ErrManagementScopeForUser: Management API scopes cannot be put in a User role
	// (Logto's role.management_api_scopes_not_assignable_to_user_role).
	ErrManagementScopeForUser = errors.New("directory: Management API scopes cannot be assigned to a user role")
)

// Entity names used in NotFoundError and ConflictError. They match Logto's entity
// names where Logto has one, so the HTTP layer can put them in messages as is.
const (
	EntityApplication = "application"
	EntityUser        = "user"
	EntityResource    = "resource"
	EntityScope       = "scope"
	EntityRole        = "role"
	EntitySecret      = "application secret"
	EntitySigningKey  = "signing key"
	// Assignments (ConflictError: the pair already exists; NotFoundError: it does not).
	EntityRoleScope = "role scope"
	EntityUserRole  = "user role"
	EntityAppRole   = "application role"
)

// NotFoundError names the missing entity.
type NotFoundError struct {
	Entity string // one of the Entity* constants
	ID     string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("directory: %s %q not found", e.Entity, e.ID)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(entity, id string) error { return &NotFoundError{Entity: entity, ID: id} }

// ConflictError names the field whose value is already taken.
type ConflictError struct {
	Entity string // one of the Entity* constants
	Field  string // JSON field name: username, primaryEmail, primaryPhone, indicator, name, id, scopeId, userId, applicationId, roleId
	Value  string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("directory: %s %s %q is already in use", e.Entity, e.Field, e.Value)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

func conflict(entity, field, value string) error {
	return &ConflictError{Entity: entity, Field: field, Value: value}
}

// InvalidError says which field is wrong and why.
type InvalidError struct {
	Field   string // JSON field name, e.g. "oidcClientMetadata.redirectUris"
	Message string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("directory: invalid %s: %s", e.Field, e.Message)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// RoleTypeError is a role assignment refused because of types.
type RoleTypeError struct {
	// Subject is EntityUser or EntityApplication.
	Subject   string
	SubjectID string
	// RoleID is the offending role; empty when the subject is an application that is
	// not MachineToMachine (only M2M applications have roles, Logto's
	// application.invalid_type).
	RoleID string
}

func (e *RoleTypeError) Error() string {
	if e.RoleID == "" {
		return fmt.Sprintf("directory: %s %q is not MachineToMachine and cannot have roles", e.Subject, e.SubjectID)
	}
	return fmt.Sprintf("directory: role %q cannot be assigned to %s %q: wrong role type", e.RoleID, e.Subject, e.SubjectID)
}

// Is makes errors.Is(err, ErrRoleType) true.
func (e *RoleTypeError) Is(target error) bool { return target == ErrRoleType }

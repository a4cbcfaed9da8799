package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/dlclark/regexp2/v2"

	"github.com/latchid/latch/directory"
)

// Logto's search query parameters on list routes (users, roles, applications, scopes
// and their relations):
//
//	search=<v>              match <v> against every searchable field
//	search.<field>=<v>      match <v> against one field (repeatable in exact mode)
//	mode[.<field>]=<m>      exact | like (default) | similar_to | posix
//	isCaseSensitive=true    case-sensitive matching (default false)
//	joint=and|or            how the conditions combine (default or)
//
// The modes keep Postgres's semantics, which Logto's queries use: like is LIKE / ILIKE
// (% and _ wildcards, \ escapes, whole value), similar_to is SIMILAR TO (whole value,
// case-sensitive only), posix is a regular-expression search (~ / ~*, anywhere in the
// value; lookaround is supported as in Postgres's ARE), exact is = (lower() on both
// sides when case-insensitive). A NULL field matches nothing. Every malformed query is
// a 400 request.invalid_input.

// Search match modes.
const (
	searchExact     = "exact"
	searchLike      = "like"
	searchSimilarTo = "similar_to"
	searchPosix     = "posix"
)

var searchModes = []string{searchExact, searchLike, searchSimilarTo, searchPosix}

// searchRegexTimeout bounds one posix match: the engine backtracks, so a hostile
// expression must not hold a request's goroutine.
const searchRegexTimeout = 100 * time.Millisecond

// Searchable fields per entity, in Logto's camelCase (the query may also spell them in
// snake_case, as Logto accepts both).
var (
	userSearchFields  = []string{"id", "primaryEmail", "primaryPhone", "username", "name"}
	roleSearchFields  = []string{"id", "name", "description"}
	appSearchFields   = []string{"id", "name", "description"}
	scopeSearchFields = []string{"id", "name", "description"}
)

// searchFilter is a parsed, compiled search. The nil filter matches everything. It
// serves one request (a posix condition remembers that it ran out of time).
type searchFilter struct {
	conds    []searchCond
	and      bool
	timedOut bool // a posix match exceeded searchRegexTimeout: no more matching
}

// searchCond is one condition: its test holds for any of fields.
type searchCond struct {
	fields []string
	test   func(string) bool
}

// match reports whether the entity whose fields get returns (nil = NULL) passes.
func (f *searchFilter) match(get func(field string) *string) bool {
	if f == nil || len(f.conds) == 0 {
		return true
	}
	for _, c := range f.conds {
		ok := slices.ContainsFunc(c.fields, func(field string) bool {
			v := get(field)
			return v != nil && c.test(*v)
		})
		if f.and && !ok {
			return false
		}
		if !f.and && ok {
			return true
		}
	}
	return f.and
}

// filterSearch keeps the items that f matches. A posix expression that takes longer
// than searchRegexTimeout on one value fails the whole search (400), so a
// backtracking expression costs one timeout per request, not one per entity.
func filterSearch[E any](f *searchFilter, items []E, get func(E, string) *string) ([]E, error) {
	if f == nil || len(f.conds) == 0 {
		return items, nil
	}
	out := slices.DeleteFunc(items, func(e E) bool {
		return f.timedOut || !f.match(func(field string) *string { return get(e, field) })
	})
	if f.timedOut {
		return nil, searchError("The regular expression takes too long to match; simplify it.")
	}
	return out, nil
}

func searchError(msg string) *APIError {
	return apiErr(http.StatusBadRequest, "request.invalid_input", "Input is invalid. "+msg)
}

// snakeCase turns primaryEmail into primary_email (Logto normalizes field names so).
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseSearch reads the search parameters of q for an entity whose searchable fields
// are fields. It returns nil when q has no search.
func parseSearch(q url.Values, fields []string) (*searchFilter, error) {
	joint := q.Get("joint")
	if joint == "" {
		joint = q.Get("jointMode")
	}
	if joint != "" && joint != "and" && joint != "or" {
		return nil, searchError(fmt.Sprintf("Search joint mode `%s` is not valid, expect one of or, and.", joint))
	}
	caseSensitive := isYes(q.Get("isCaseSensitive"))

	modes := map[string]string{} // field ("" = every field) -> mode
	values := map[string][]string{}
	var order []string // fields in a stable order
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		isMode, isSearch := strings.HasPrefix(key, "mode"), strings.HasPrefix(key, "search")
		if !isMode && !isSearch {
			continue
		}
		path := strings.Split(key, ".")
		if len(path) > 2 {
			return nil, searchError(fmt.Sprintf("Unsupported nested search field path `%s` detected. Only the first level field is supported.", strings.Join(path[1:], ".")))
		}
		field := ""
		if len(path) == 2 {
			field = path[1]
		}
		if isMode {
			m := q[key][len(q[key])-1]
			if !slices.Contains(searchModes, m) {
				where := ""
				if field != "" {
					where = fmt.Sprintf(" for field `%s`", field)
				}
				return nil, searchError(fmt.Sprintf("Search match mode `%s`%s is not valid, expect one of %s.", m, where, strings.Join(searchModes, ", ")))
			}
			modes[field] = m
			continue
		}
		if _, seen := values[field]; !seen {
			order = append(order, field)
		}
		values[field] = append(values[field], q[key]...)
	}
	if len(order) == 0 {
		return nil, nil
	}

	snakeFields := make([]string, len(fields))
	for i, f := range fields {
		snakeFields[i] = snakeCase(f)
	}
	f := &searchFilter{and: joint == "and"}
	for _, field := range order {
		vals := values[field]
		mode, ok := modes[field]
		if !ok {
			if mode, ok = modes[""]; !ok {
				mode = searchLike
			}
		}
		if mode == searchExact {
			if slices.Contains(vals, "") {
				return nil, searchError("Search value cannot be empty.")
			}
		} else {
			if len(vals) != 1 {
				return nil, searchError("Only one search value is allowed when search mode is not `exact`.")
			}
			if vals[0] == "" {
				return nil, searchError("Search value cannot be empty.")
			}
		}
		cond := searchCond{fields: fields}
		if field != "" {
			i := slices.Index(snakeFields, snakeCase(field))
			if i < 0 {
				return nil, searchError(fmt.Sprintf("Search field `%s` is not valid, expect one of %s.", snakeCase(field), strings.Join(snakeFields, ", ")))
			}
			cond.fields = []string{fields[i]}
		}
		test, err := searchTest(mode, vals, caseSensitive, &f.timedOut)
		if err != nil {
			return nil, err
		}
		cond.test = test
		f.conds = append(f.conds, cond)
	}
	return f, nil
}

// isYes is @silverhand/essentials' yes(): "true", "1", "yes", "y" in any case.
func isYes(s string) bool {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "y":
		return true
	}
	return false
}

func searchTest(mode string, vals []string, caseSensitive bool, timedOut *bool) (func(string) bool, error) {
	switch mode {
	case searchExact:
		if caseSensitive {
			return func(v string) bool { return slices.Contains(vals, v) }, nil
		}
		lowered := make([]string, len(vals))
		for i, v := range vals {
			lowered[i] = strings.ToLower(v)
		}
		return func(v string) bool { return slices.Contains(lowered, strings.ToLower(v)) }, nil
	case searchLike:
		re, err := regexp.Compile(likeToRegexp(vals[0], caseSensitive))
		if err != nil {
			return nil, searchError("Invalid `like` pattern.")
		}
		return re.MatchString, nil
	case searchSimilarTo:
		if !caseSensitive {
			return nil, searchError("Cannot use case-insensitive match for `similar to`.")
		}
		re, err := regexp.Compile(similarToRegexp(vals[0]))
		if err != nil {
			return nil, searchError(fmt.Sprintf("Invalid `similar to` pattern: %v", err))
		}
		return re.MatchString, nil
	case searchPosix:
		var opts []regexp2.CompileOption
		if !caseSensitive {
			opts = append(opts, regexp2.IgnoreCase)
		}
		re, err := regexp2.Compile(vals[0], opts...)
		if err != nil {
			return nil, searchError(fmt.Sprintf("Invalid regular expression: %v", err))
		}
		re.MatchTimeout = searchRegexTimeout
		return func(v string) bool {
			if *timedOut {
				return false
			}
			ok, err := re.MatchString(v)
			if err != nil { // the match ran out of time
				*timedOut = true
				return false
			}
			return ok
		}, nil
	}
	return nil, searchError("Unknown search mode.")
}

// likeToRegexp translates a LIKE pattern (% any sequence, _ one character, \ escapes
// the next character) into an anchored Go regular expression.
func likeToRegexp(p string, caseSensitive bool) string {
	var b strings.Builder
	b.WriteString("(?s)")
	if !caseSensitive {
		b.WriteString("(?i)")
	}
	b.WriteByte('^')
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\\' && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteByte('.')
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteByte('$')
	return b.String()
}

// similarToRegexp translates a SIMILAR TO pattern into an anchored Go regular
// expression: % and _ are LIKE's wildcards, | * + ? {m,n} ( ) [ ] are regex
// operators, . ^ $ are literals, \ escapes the next character.
func similarToRegexp(p string) string {
	var b strings.Builder
	b.WriteString("(?s)^(?:")
	rs := []rune(p)
	inClass := false
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case inClass:
			if r == ']' {
				inClass = false
			}
			b.WriteRune(r)
		case r == '[':
			inClass = true
			b.WriteRune(r)
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteByte('.')
		case strings.ContainsRune("|*+?{}()", r):
			b.WriteRune(r)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(")$")
	return b.String()
}

// userField is a user's searchable field (nil = NULL).
func userField(u *directory.User, field string) *string {
	switch field {
	case "id":
		return &u.ID
	case "primaryEmail":
		return u.PrimaryEmail
	case "primaryPhone":
		return u.PrimaryPhone
	case "username":
		return u.Username
	case "name":
		return u.Name
	}
	return nil
}

// roleField is a role's searchable field.
func roleField(r *directory.Role, field string) *string {
	switch field {
	case "id":
		return &r.ID
	case "name":
		return &r.Name
	case "description":
		return &r.Description
	}
	return nil
}

// appField is an application's searchable field; an empty description is NULL.
func appField(a *directory.Application, field string) *string {
	switch field {
	case "id":
		return &a.ID
	case "name":
		return &a.Name
	case "description":
		if a.Description == "" {
			return nil
		}
		return &a.Description
	}
	return nil
}

// scopeField is a scope's searchable field.
func scopeField(s *directory.Scope, field string) *string {
	switch field {
	case "id":
		return &s.ID
	case "name":
		return &s.Name
	case "description":
		return &s.Description
	}
	return nil
}

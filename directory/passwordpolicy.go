package directory

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // HIBP's k-anonymity range API is keyed by SHA-1
	"encoding/hex"
	"errors"
	"strings"
)

// PasswordPolicy is Logto's PasswordPolicy (@logto/core-kit password-policy.ts), with
// the defaults of its passwordPolicyGuard filled in: length 8..256, one character
// type, and rejecting breached passwords, repetitions and sequences, and the user's
// own information. Words are the custom words the policy rejects.
type PasswordPolicy struct {
	Length struct {
		Min int `json:"min"`
		Max int `json:"max"`
	} `json:"length"`
	CharacterTypes struct {
		Min int `json:"min"`
	} `json:"characterTypes"`
	Rejects struct {
		Pwned                 bool     `json:"pwned"`
		RepetitionAndSequence bool     `json:"repetitionAndSequence"`
		UserInfo              bool     `json:"userInfo"`
		Words                 []string `json:"words"`
	} `json:"rejects"`
}

// partialPasswordPolicy is what the sign-in experience stores (Logto's
// PartialPasswordPolicy): any field may be absent and then takes the default.
type partialPasswordPolicy struct {
	Length *struct {
		Min *int `json:"min"`
		Max *int `json:"max"`
	} `json:"length"`
	CharacterTypes *struct {
		Min *int `json:"min"`
	} `json:"characterTypes"`
	Rejects *struct {
		Pwned                 *bool     `json:"pwned"`
		RepetitionAndSequence *bool     `json:"repetitionAndSequence"`
		UserInfo              *bool     `json:"userInfo"`
		Words                 *[]string `json:"words"`
	} `json:"rejects"`
}

// full fills in Logto's defaults and validates the ranges (length.min and max >= 1,
// characterTypes.min in 1..4).
func (p partialPasswordPolicy) full() (PasswordPolicy, error) {
	var out PasswordPolicy
	out.Length.Min, out.Length.Max, out.CharacterTypes.Min = 8, 256, 1
	out.Rejects.Pwned, out.Rejects.RepetitionAndSequence, out.Rejects.UserInfo = true, true, true
	out.Rejects.Words = []string{}
	if l := p.Length; l != nil {
		if l.Min != nil {
			out.Length.Min = *l.Min
		}
		if l.Max != nil {
			out.Length.Max = *l.Max
		}
	}
	if c := p.CharacterTypes; c != nil && c.Min != nil {
		out.CharacterTypes.Min = *c.Min
	}
	if r := p.Rejects; r != nil {
		if r.Pwned != nil {
			out.Rejects.Pwned = *r.Pwned
		}
		if r.RepetitionAndSequence != nil {
			out.Rejects.RepetitionAndSequence = *r.RepetitionAndSequence
		}
		if r.UserInfo != nil {
			out.Rejects.UserInfo = *r.UserInfo
		}
		if r.Words != nil {
			out.Rejects.Words = *r.Words
		}
	}
	var errs []error
	if out.Length.Min < 1 || out.Length.Max < 1 {
		errs = append(errs, errors.New("passwordPolicy.length.min and max must be at least 1"))
	}
	if out.CharacterTypes.Min < 1 || out.CharacterTypes.Min > 4 {
		errs = append(errs, errors.New("passwordPolicy.characterTypes.min must be between 1 and 4"))
	}
	return out, errors.Join(errs...)
}

// PasswordIssue is one rule a password breaks: Logto's PasswordIssue, code
// "password_rejected.<rule>".
type PasswordIssue struct {
	Code          string         `json:"code"`
	Interpolation map[string]any `json:"interpolation,omitempty"`
}

// PasswordUserInfo is the user's own information a password must not be made of
// (Logto's UserInfo).
type PasswordUserInfo struct {
	Name, Username, Email, PhoneNumber string
}

// ErrUserInfoRequired is Logto's TypeError: the policy rejects user information and
// none was given.
var ErrUserInfoRequired = errors.New("User information data is required to check user information.")

// BreachChecker reports whether a password is known to be breached.
type BreachChecker interface {
	Breached(ctx context.Context, password string) (bool, error)
}

// Password policy constants, as Logto's PasswordPolicyChecker.
const (
	passwordSymbols                = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	repetitionAndSequenceThreshold = 3
	restrictedPhrasesTolerance     = 3
)

var passwordSequences = []string{
	"0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm",
	"1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik", "9ol",
}

// Check returns every rule password breaks, in Logto's order: length, character
// types, pwned, then the restricted phrases (repetition, sequence, words, user info),
// which count only when they cover more than all but restrictedPhrasesTolerance
// characters. info may be nil only when the policy does not reject user information
// (else ErrUserInfoRequired). pwned is asked only when the policy rejects breached
// passwords; the bundled list of common passwords is always consulted then, so a
// node without network access (HIBP disabled) still refuses the most common ones.
func (p PasswordPolicy) Check(ctx context.Context, password string, info *PasswordUserInfo, pwned BreachChecker) ([]PasswordIssue, error) {
	issues := p.fastCheck(password)
	if p.Rejects.Pwned {
		breached := isCommonPassword(password)
		if !breached && pwned != nil {
			var err error
			if breached, err = pwned.Breached(ctx, password); err != nil {
				return nil, err
			}
		}
		if breached {
			issues = append(issues, PasswordIssue{Code: "password_rejected.pwned"})
		}
	}
	runes := []rune(password)
	hit := make([]bool, len(runes))
	var codes []string
	fill := func(start, n int, code string) {
		if n <= 0 {
			return
		}
		for i := start; i < start+n && i < len(hit); i++ {
			hit[i] = true
		}
		for _, c := range codes {
			if c == code {
				return
			}
		}
		codes = append(codes, code)
	}
	for i := range runes {
		rest := runes[i:]
		if p.Rejects.RepetitionAndSequence {
			fill(i, repetitionLength(rest), "restricted.repetition")
			fill(i, sequenceLength(rest), "restricted.sequence")
		}
		if len(p.Rejects.Words) > 0 {
			fill(i, p.wordLength(rest), "restricted.words")
		}
		if p.Rejects.UserInfo {
			if info == nil {
				return nil, ErrUserInfoRequired
			}
			fill(i, userInfoLength(rest, *info), "restricted.user_info")
		}
	}
	covered := 0
	for _, h := range hit {
		if h {
			covered++
		}
	}
	if covered > max(1, len(runes)-restrictedPhrasesTolerance) {
		for _, c := range codes {
			issues = append(issues, PasswordIssue{Code: "password_rejected." + c})
		}
	}
	return issues, nil
}

// fastCheck is Logto's fastCheck: length and character types.
func (p PasswordPolicy) fastCheck(password string) []PasswordIssue {
	var issues []PasswordIssue
	// Logto counts UTF-16 code units; every supported character is ASCII, so runes
	// give the same count for any password that passes the character check.
	n := len([]rune(password))
	switch {
	case n < p.Length.Min:
		issues = append(issues, PasswordIssue{Code: "password_rejected.too_short", Interpolation: map[string]any{"min": p.Length.Min}})
	case n > p.Length.Max:
		issues = append(issues, PasswordIssue{Code: "password_rejected.too_long", Interpolation: map[string]any{"max": p.Length.Max}})
	}
	types := map[string]bool{}
	for _, c := range password {
		switch {
		case c >= 'a' && c <= 'z':
			types["lower"] = true
		case c >= 'A' && c <= 'Z':
			types["upper"] = true
		case c >= '0' && c <= '9':
			types["digit"] = true
		case strings.ContainsRune(passwordSymbols, c):
			types["symbol"] = true
		default:
			return append(issues, PasswordIssue{Code: "password_rejected.unsupported_characters"})
		}
	}
	if len(types) < p.CharacterTypes.Min {
		issues = append(issues, PasswordIssue{Code: "password_rejected.character_types", Interpolation: map[string]any{"min": p.CharacterTypes.Min}})
	}
	return issues
}

func lowerRunes(r []rune) string { return strings.ToLower(string(r)) }

// repetitionLength is the length of the run of one character (case-insensitive) at
// the start of s, 0 below the threshold.
func repetitionLength(s []rune) int {
	if len(s) == 0 {
		return 0
	}
	first := strings.ToLower(string(s[0]))
	n := 0
	for _, c := range s {
		if strings.ToLower(string(c)) != first {
			break
		}
		n++
	}
	if n < repetitionAndSequenceThreshold {
		return 0
	}
	return n
}

// sequenceLength is the length of the sequence ("123", "cba", "qwe"...) at the start
// of s, 0 below the threshold.
func sequenceLength(s []rune) int {
	n := 0
	for i := range s {
		if i > 0 && !isSequential(lowerRunes(s[:i+1])) {
			break
		}
		n = i + 1
	}
	if n < repetitionAndSequenceThreshold {
		return 0
	}
	return n
}

func isSequential(v string) bool {
	for _, seq := range passwordSequences {
		if strings.Contains(seq, v) || strings.Contains(reverse(seq), v) {
			return true
		}
	}
	return false
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// wordLength is the length of the longest rejected word s starts with.
func (p PasswordPolicy) wordLength(s []rune) int {
	low := lowerRunes(s)
	n := 0
	for _, w := range p.Rejects.Words {
		if w != "" && strings.HasPrefix(low, strings.ToLower(w)) && len([]rune(w)) > n {
			n = len([]rune(w))
		}
	}
	return n
}

// userInfoLength is the length of the longest piece of the user's information s
// starts with: the name (whole, without spaces, or one of its words), the username,
// the local part of the email, the phone number.
func userInfoLength(s []rune, info PasswordUserInfo) int {
	low := lowerRunes(s)
	n := 0
	try := func(v string) {
		if v != "" && strings.HasPrefix(low, strings.ToLower(v)) && len([]rune(v)) > n {
			n = len([]rune(v))
		}
	}
	if info.Name != "" {
		if strings.HasPrefix(low, strings.ToLower(info.Name)) {
			try(info.Name)
		} else {
			try(strings.Join(strings.Fields(info.Name), ""))
			for _, w := range strings.Split(info.Name, " ") {
				try(w)
			}
		}
	}
	try(info.Username)
	if local, _, _ := strings.Cut(info.Email, "@"); local != "" {
		try(local)
	}
	try(info.PhoneNumber)
	return n
}

// commonPasswords is a small bundled list of the most common breached passwords
// (lower-cased), consulted whenever the policy rejects breached passwords, so that a
// node that cannot reach Have I Been Pwned still refuses them.
var commonPasswords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, p := range strings.Fields(`
123456 123456789 12345678 password qwerty123 qwerty1 111111 12345 secret 123123
1234567890 1234567 000000 qwerty abc123 password1 iloveyou 1q2w3e4r 123321 dragon
654321 666666 monkey 7777777 123qwe 1q2w3e4r5t 1qaz2wsx zaq12wsx qazwsx letmein
football baseball welcome admin admin123 login princess sunshine master shadow
superman trustno1 passw0rd password123 password12 p@ssw0rd p@ssword qwertyuiop
starwars whatever freedom michael jennifer hunter2 charlie donald batman
121212 112233 987654321 88888888 asdfghjkl zxcvbnm access flower hello123
changeme welcome1 welcome123 letmein1 iloveyou1 football1 baseball1 abcd1234
qwer1234 q1w2e3r4 1q2w3e 123abc a123456 aa123456 abc12345 test123 test1234
default guest root toor pass1234 mypassword solo loveme mustang`) {
		m[p] = struct{}{}
	}
	return m
}()

func isCommonPassword(pw string) bool {
	_, ok := commonPasswords[strings.ToLower(pw)]
	return ok
}

// HIBP checks passwords against Have I Been Pwned's range API with k-anonymity, as
// Logto's hasBeenPwned: only the first 5 hex digits of the password's SHA-1 leave the
// node, and the answer's suffixes are matched locally. Get fetches a URL and returns
// its body; it is injected (an *http.Client wrapper in production, a fake in tests).
// Latch does not enable it by default: a node without outbound network access would
// otherwise fail every password change.
type HIBP struct {
	// BaseURL defaults to https://api.pwnedpasswords.com/range/.
	BaseURL string
	Get     func(ctx context.Context, url string) ([]byte, error)
}

var _ BreachChecker = HIBP{}

// Breached implements BreachChecker.
func (h HIBP) Breached(ctx context.Context, password string) (bool, error) {
	if h.Get == nil {
		return false, nil
	}
	sum := sha1.Sum([]byte(password)) //nolint:gosec
	hexSum := strings.ToUpper(hex.EncodeToString(sum[:]))
	base := h.BaseURL
	if base == "" {
		base = "https://api.pwnedpasswords.com/range/"
	}
	body, err := h.Get(ctx, base+hexSum[:5])
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		suffix, _, _ := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if strings.EqualFold(suffix, hexSum[5:]) {
			return true, nil
		}
	}
	return false, sc.Err()
}

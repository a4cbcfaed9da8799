// Package customjwt runs Logto's custom JWT scripts ("jwt-customizer"): a JavaScript
// getCustomJwtClaims({token, context, environmentVariables, api}) whose answer is
// merged into a JWT access token's claims.
//
// Scripts run in github.com/dop251/goja, a pure-Go ECMAScript interpreter: a fresh
// runtime per run (no state survives between tokens), a hard wall-clock limit after
// which the runtime is interrupted, and nothing but the language itself: no require,
// no fetch, no timers, no file system or network. Logto's OSS runs the same scripts
// in a Node worker thread with fetch available and a 5 s limit.
package customjwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dop251/goja"
)

// DefaultTimeout bounds one script run, its promise jobs included.
const DefaultTimeout = 100 * time.Millisecond

// maxCallStack bounds the script's recursion depth (goja's default is unbounded up
// to Go's own stack).
const maxCallStack = 1024

// Failure kinds, as Logto's script runner reports them.
const (
	KindDenied  = "denied"  // api.denyAccess was called
	KindSyntax  = "syntax"  // the script does not compile
	KindTimeout = "timeout" // interrupted at the time limit
	KindRuntime = "runtime" // it threw, rejected, or never settled
	KindInvalid = "invalid" // it settled on something other than a plain object
)

// Error is a failed run. Message is what the script said (denyAccess's message, the
// thrown error's message) or Latch's description.
type Error struct {
	Kind    string
	Message string
}

func (e *Error) Error() string { return "custom jwt script: " + e.Kind + ": " + e.Message }

// IsDenied reports whether err is a run that called api.denyAccess.
func IsDenied(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindDenied
}

// Input is one run: the script and the payload getCustomJwtClaims receives.
type Input struct {
	Script               string
	Token                map[string]any
	Context              map[string]any
	EnvironmentVariables map[string]string
}

// Runner runs scripts. The zero value uses DefaultTimeout. Safe for concurrent use:
// each run has its own runtime.
type Runner struct {
	// Timeout bounds each run; zero means DefaultTimeout.
	Timeout time.Duration
}

// deniedMarker is thrown by api.denyAccess; the run reports a denial when the script
// ends with it (a script may catch it and carry on, as in Node).
const deniedMarker = "__latchCustomJwtDenied"

// Run runs in.Script's getCustomJwtClaims on the payload and returns the claims it
// settles on. A script that runs past the time limit is interrupted and never holds
// the caller longer than that.
func (r Runner) Run(in Input) (map[string]any, error) {
	prog, err := compile(in.Script)
	if err != nil {
		return nil, err
	}
	return r.runProgram(prog, in)
}

// compile compiles a script; a syntax error is an *Error of KindSyntax. A Program may
// run in many runtimes at once.
func compile(script string) (*goja.Program, error) {
	prog, err := goja.Compile("custom-jwt.js", script, true)
	if err != nil {
		return nil, &Error{Kind: KindSyntax, Message: err.Error()}
	}
	return prog, nil
}

// runProgram is Run with in.Script compiled already (prog): in a runtime of its own,
// so that no run sees what another left in its globals.
func (r Runner) runProgram(prog *goja.Program, in Input) (map[string]any, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	payload, err := json.Marshal(struct {
		Token                map[string]any    `json:"token"`
		Context              map[string]any    `json:"context,omitempty"`
		EnvironmentVariables map[string]string `json:"environmentVariables"`
	}{in.Token, in.Context, in.EnvironmentVariables})
	if err != nil {
		return nil, err
	}
	if in.EnvironmentVariables == nil {
		payload, _ = json.Marshal(struct {
			Token   map[string]any `json:"token"`
			Context map[string]any `json:"context,omitempty"`
		}{in.Token, in.Context})
	}
	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallStack)
	timer := time.AfterFunc(timeout, func() { vm.Interrupt(KindTimeout) })
	defer timer.Stop()

	var deniedMsg *string
	deny := func(call goja.FunctionCall) goja.Value {
		msg := ""
		if a := call.Argument(0); !goja.IsUndefined(a) && !goja.IsNull(a) {
			msg = a.String()
		}
		deniedMsg = &msg
		e := vm.NewObject()
		_ = e.Set("name", "AccessDenied")
		_ = e.Set("message", msg)
		_ = e.Set(deniedMarker, true)
		panic(vm.ToValue(e))
	}

	result, rejected, err := run(vm, prog, string(payload), deny)
	if rejected != nil {
		return nil, thrown(rejected, deniedMsg)
	}
	if err != nil {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			return nil, &Error{Kind: KindTimeout, Message: fmt.Sprintf("Script execution timed out after %dms.", timeout.Milliseconds())}
		}
		var ex *goja.Exception
		if errors.As(err, &ex) {
			return nil, thrown(ex.Value(), deniedMsg)
		}
		var se *goja.StackOverflowError
		if errors.As(err, &se) {
			return nil, &Error{Kind: KindRuntime, Message: "Maximum call stack size exceeded"}
		}
		var re *Error
		if errors.As(err, &re) {
			return nil, re
		}
		return nil, &Error{Kind: KindRuntime, Message: err.Error()}
	}
	return result, nil
}

// run executes the script, calls getCustomJwtClaims and settles its answer (the job
// queue runs when the outermost call returns, so a promise that can settle has).
// rejected is the reason of a rejected promise.
func run(vm *goja.Runtime, prog *goja.Program, payload string, deny func(goja.FunctionCall) goja.Value) (claims map[string]any, rejected goja.Value, err error) {
	if _, err := vm.RunProgram(prog); err != nil {
		return nil, nil, err
	}
	fnv, err := vm.RunString("typeof getCustomJwtClaims === 'function' ? getCustomJwtClaims : undefined")
	if err != nil {
		return nil, nil, err
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		return nil, nil, &Error{Kind: KindRuntime, Message: "getCustomJwtClaims is not defined as a function"}
	}
	parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	arg, err := parse(goja.Undefined(), vm.ToValue(payload))
	if err != nil {
		return nil, nil, err
	}
	api := vm.NewObject()
	_ = api.Set("denyAccess", deny)
	_ = arg.ToObject(vm).Set("api", api)
	out, err := fn(goja.Undefined(), arg)
	if err != nil {
		return nil, nil, err
	}
	if p, ok := out.Export().(*goja.Promise); ok {
		switch p.State() {
		case goja.PromiseStateFulfilled:
			out = p.Result()
		case goja.PromiseStateRejected:
			return nil, p.Result(), nil
		default:
			return nil, nil, &Error{Kind: KindRuntime, Message: "getCustomJwtClaims never settled"}
		}
	}
	claims, err = plainObject(vm, out)
	return claims, nil, err
}

// plainObject is the script's answer as JSON claims: it must be a plain object (not
// an array, a function, null or a primitive), as Logto's z.record check.
func plainObject(vm *goja.Runtime, v goja.Value) (map[string]any, error) {
	invalid := &Error{Kind: KindInvalid, Message: "Invalid input: the script must return an object"}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, invalid
	}
	obj, ok := v.(*goja.Object)
	if !ok || obj.ClassName() != "Object" {
		return nil, invalid
	}
	stringify, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	s, err := stringify(goja.Undefined(), v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.String()), &m); err != nil || m == nil {
		return nil, invalid
	}
	return m, nil
}

// thrown turns what the script threw (or rejected with) into an Error: a denial when
// it is denyAccess's marker, else its message.
func thrown(v goja.Value, deniedMsg *string) *Error {
	if obj, ok := v.(*goja.Object); ok {
		if deniedMsg != nil && obj.Get(deniedMarker) != nil && obj.Get(deniedMarker).ToBoolean() {
			return &Error{Kind: KindDenied, Message: *deniedMsg}
		}
		if m := obj.Get("message"); m != nil && !goja.IsUndefined(m) {
			return &Error{Kind: KindRuntime, Message: m.String()}
		}
	}
	if v == nil {
		return &Error{Kind: KindRuntime, Message: "the script failed"}
	}
	return &Error{Kind: KindRuntime, Message: v.String()}
}

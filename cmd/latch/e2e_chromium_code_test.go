package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The sign-in page's code flows in headless Chromium, with the real SMTP server of
// newFlowsEnv: sign in with an emailed code, and forgot password followed by a sign-in
// with the new password. The code pages work without JavaScript; the sign-in page runs
// its script (sign-in.js).

// wantFormError waits for the page's error box and checks what it says.
func wantFormError(t *testing.T, page *cdpPage, want string) {
	t.Helper()
	page.waitFor("the error message", `document.readyState === "complete" && !!document.getElementById("form-error") && !document.getElementById("form-error").hidden`)
	if msg := page.evalString(`document.getElementById("form-error").textContent`); !strings.Contains(msg, want) {
		t.Fatalf("error shown = %q, want %q", msg, want)
	}
}

// TestChromiumSignInByCode: from the sign-in page's "Sign in with a code" link, the
// user types an email, gets the code by mail, sees a wrong code refused, and the right
// one ends at the application with a code whose ID token is the account's, by otp alone.
func TestChromiumSignInByCode(t *testing.T) {
	binary := chromiumBinary(t)
	e := newFlowsEnv(t)
	app := newChromiumApp(t, e, "Passwordless SPA")
	const addr = "alice@browser.example"

	page := launchChromium(t, binary)
	page.navigate(app.authURL("chromium-passwordless"))
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("sign-in-code")`)
	if text := page.evalString(`document.getElementById("sign-in-code").textContent`); text != "Sign in with a code" {
		t.Fatalf("link text %q", text)
	}
	clickInView(t, page, "sign-in-code")
	page.waitFor("the code page", `location.pathname === "/sign-in/code" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	if h := page.evalString(`document.querySelector("h1").textContent`); h != "Sign in with a code" {
		t.Fatalf("heading %q", h)
	}
	page.typeInto("identifier", addr)
	clickInView(t, page, "submit")
	page.waitFor("the code step", `document.readyState === "complete" && !!document.getElementById("code")`)
	if sub := page.evalString(`document.querySelector(".subtitle").textContent`); !strings.Contains(sub, addr) {
		t.Fatalf("subtitle %q, want the address the code went to", sub)
	}
	code := e.code(t, addr, "SignIn")

	page.typeInto("code", wrongCode(code))
	clickInView(t, page, "submit")
	wantFormError(t, page, "Invalid verification code.")
	if page.evalString(`location.pathname`) != "/sign-in/code" {
		t.Fatalf("after a wrong code the browser is at %s", page.evalString("location.href"))
	}

	// "Send a new code": a fresh mail; the first code no longer counts.
	if _, err := page.eval(`[...document.querySelectorAll("button")].find(b => b.textContent === "Send a new code").click()`); err != nil {
		t.Fatal(err)
	}
	fresh := e.code(t, addr, "SignIn")
	page.waitFor("the new code step", `document.readyState === "complete" && !!document.getElementById("code") && document.getElementById("form-error").hidden`)
	if fresh != code {
		page.typeInto("code", code)
		clickInView(t, page, "submit")
		wantFormError(t, page, "Invalid verification code.")
	}

	page.typeInto("code", fresh)
	clickInView(t, page, "submit")
	idt := app.callback(t, page, "chromium-passwordless")
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if amr := amrOf(claims); claims["sub"] != e.userID || claims["email"] != addr || !slices.Contains(amr, "otp") || slices.Contains(amr, "pwd") {
		t.Fatalf("claims %v: want sub %s, email %s, amr otp without pwd", claims, e.userID, addr)
	}
}

// TestChromiumForgotPassword: from the sign-in page's "Forgot your password?" link,
// the user types an email, gets the code by mail, sees a weak new password refused,
// sets a good one, follows the link back to the sign-in page, where the old password
// is refused and the new one ends at the application.
// The sign-in at the end runs with the page's script and with JavaScript disabled (the
// form posts to /sign-in).
func TestChromiumForgotPassword(t *testing.T) {
	binary := chromiumBinary(t)
	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("javascript=%v", js), func(t *testing.T) { chromiumForgotPassword(t, binary, js) })
	}
}

func chromiumForgotPassword(t *testing.T, binary string, js bool) {
	e := newFlowsEnv(t)
	app := newChromiumApp(t, e, "Reset SPA")
	const addr, newPassword = "alice@browser.example", "Chromium-reset-Passw0rd"

	page := launchChromium(t, binary)
	if !js {
		page.call("Emulation.setScriptExecutionDisabled", map[string]any{"value": true}, nil)
	}
	page.navigate(app.authURL("chromium-reset"))
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("forgot-password")`)
	clickInView(t, page, "forgot-password")
	page.waitFor("the forgot-password page", `location.pathname === "/forgot-password" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	if h := page.evalString(`document.querySelector("h1").textContent`); h != "Reset your password" {
		t.Fatalf("heading %q", h)
	}
	page.typeInto("identifier", addr)
	clickInView(t, page, "submit")
	page.waitFor("the code step", `document.readyState === "complete" && !!document.getElementById("code") && !!document.getElementById("confirm-password")`)
	code := e.code(t, addr, "ForgotPassword")

	// A new password the policy rejects: the page says so and asks again.
	page.typeInto("code", code)
	page.typeInto("password", "abc")
	page.typeInto("confirm-password", "abc")
	clickInView(t, page, "submit")
	wantFormError(t, page, "Password rejected")

	page.typeInto("code", code) // the field comes back empty; the code stays proven
	page.typeInto("password", newPassword)
	page.typeInto("confirm-password", newPassword)
	clickInView(t, page, "submit")
	page.waitFor("the confirmation", `document.readyState === "complete" && !document.getElementById("code-form")`)
	if sub := page.evalString(`document.querySelector(".subtitle").textContent`); sub != "Your password has been changed." {
		t.Fatalf("after the reset the page says %q", sub)
	}

	// Back to the sign-in page by its link: the old password is refused, the new one works.
	if _, err := page.eval(`[...document.querySelectorAll("a")].find(a => a.textContent === "Sign in with your new password").click()`); err != nil {
		t.Fatal(err)
	}
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.typeInto("identifier", addr)
	page.typeInto("password", browserPassword)
	clickInView(t, page, "submit")
	wantFormError(t, page, "Incorrect account or password")
	page.typeInto("password", newPassword)
	clickInView(t, page, "submit")
	idt := app.callback(t, page, "chromium-reset")
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != e.userID || !slices.Equal(amrOf(claims), []string{"pwd"}) {
		t.Fatalf("claims %v: want sub %s and amr [pwd]", claims, e.userID)
	}
}

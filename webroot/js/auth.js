// Sign-in and first-run account creation. The server answers login with an HttpOnly cookie;
// the token in the JSON body is deliberately ignored (never stored by the browser UI).
import { api } from "./api.js";
import { h } from "./ui.js";
import { t } from "./i18n.js";

const NO_USER = /no (user|account)s?|register|first (user|account)|create an? (user|account)/i;

function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom/.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return os ? t("auth.deviceOn", { browser, os }) : browser;
}

/** Render the sign-in screen into root; onSignedIn(user) once a session exists. */
export function showAuth(root, onSignedIn, message = "") {
  const banner = h("p.banner", { role: "alert", testid: "auth-error", hidden: !message }, message);
  const say = (text, ok = false) => { banner.textContent = text; banner.hidden = !text; banner.classList.toggle("ok", ok); };

  const input = (name, label, attrs) => h("label", label, h("input", { name, required: true, ...attrs }));
  const login = h("form.auth-form", { testid: "login-form", "aria-label": t("auth.signIn") },
    input("username", t("auth.username"), { autocomplete: "username", testid: "login-username", autocapitalize: "none", spellcheck: false }),
    input("password", t("auth.password"), { type: "password", autocomplete: "current-password", testid: "login-password" }),
    h("button.primary", { type: "submit", testid: "login-submit" }, t("auth.signIn")),
    h("p.muted", { testid: "register-offer" }, t("auth.noAccount"), " ", h("button.link", { type: "button", testid: "show-register", onclick: () => swap(true) }, t("auth.createAccount"))));
  // With registration closed the offer becomes a pointer to the admin (GET /api/auth/status).
  const closedHint = h("p.muted", { testid: "registration-closed", hidden: true }, t("auth.registrationClosed"));
  login.append(closedHint);
  const register = h("form.auth-form", { testid: "register-form", "aria-label": t("auth.createAccount"), hidden: true },
    h("p.muted", t("auth.registerIntro")),
    input("username", t("auth.username"), { autocomplete: "username", testid: "register-username", autocapitalize: "none", spellcheck: false }),
    input("password", t("auth.password"), { type: "password", autocomplete: "new-password", testid: "register-password" }),
    input("again", t("auth.repeatPassword"), { type: "password", autocomplete: "new-password", testid: "register-password-again" }),
    h("button.primary", { type: "submit", testid: "register-submit" }, t("auth.createAccount")),
    h("p.muted", { testid: "back-to-login" }, h("button.link", { type: "button", testid: "show-login", onclick: () => swap(false) }, t("auth.backToSignIn"))));

  const swap = (toRegister) => {
    login.hidden = toRegister;
    register.hidden = !toRegister;
    (toRegister ? register : login).elements.username.focus();
  };

  const signIn = async (username, password) => {
    const res = await api("/api/auth/login", { method: "POST", authCall: true, body: { username, password, device: deviceName() } });
    onSignedIn(res.user || { username });
  };

  const busy = (form, on) => { form.querySelector("button[type=submit]").disabled = on; };

  login.addEventListener("submit", async (e) => {
    e.preventDefault();
    say("");
    busy(login, true);
    const { username, password } = login.elements;
    try {
      await signIn(username.value.trim(), password.value);
    } catch (err) {
      say(err.detail);
      if (NO_USER.test(err.serverDetail || "")) { // the server's own words, whatever the UI language
        register.elements.username.value = username.value;
        swap(true);
        say(t("auth.noAccountYet"), true);
      }
    } finally { busy(login, false); }
  });

  register.addEventListener("submit", async (e) => {
    e.preventDefault();
    say("");
    const { username, password, again } = register.elements;
    if (password.value !== again.value) return say(t("auth.passwordsDiffer"));
    busy(register, true);
    try {
      await api("/api/auth/register", { method: "POST", authCall: true, body: { username: username.value.trim(), password: password.value } });
      await signIn(username.value.trim(), password.value);
    } catch (err) {
      say(err.detail); // e.g. registration closed (our text for its code, else the server's words)
    } finally { busy(register, false); }
  });

  root.replaceChildren(h("main.auth", { testid: "auth" },
    h("div.auth-box",
      h("img", { src: "favicon.svg", alt: "", width: 72, height: 72 }),
      h("h1", t("app.name")),
      banner, login, register)));
  login.elements.username.focus();
  // Before anything is typed: a new server opens on "Create account" (its first account becomes
  // the admin), and a closed one offers no form it would refuse.
  api("/api/auth/status", { authCall: true }).then((st) => {
    if (!st || !root.contains(login)) return;
    if (st.first_run) {
      register.querySelector("[data-testid=back-to-login]").hidden = true;
      swap(true);
      if (!message) say(t("auth.firstRun"), true);
    } else if (!st.can_register) {
      login.querySelector("[data-testid=register-offer]").hidden = true;
      closedHint.hidden = false;
    }
  }).catch(() => {}); // an older server without the route: the form works as before
}

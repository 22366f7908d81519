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
  return `${browser}${os ? ` on ${os}` : ""}`;
}

/** Render the sign-in screen into root; onSignedIn(user) once a session exists. */
export function showAuth(root, onSignedIn, message = "") {
  const banner = h("p.banner", { role: "alert", testid: "auth-error", hidden: !message }, message);
  const say = (text, ok = false) => { banner.textContent = text; banner.hidden = !text; banner.classList.toggle("ok", ok); };

  const input = (name, label, attrs) => h("label", label, h("input", { name, required: true, ...attrs }));
  const login = h("form.auth-form", { testid: "login-form", "aria-label": "Sign in" },
    input("username", "Username", { autocomplete: "username", testid: "login-username", autocapitalize: "none", spellcheck: false }),
    input("password", "Password", { type: "password", autocomplete: "current-password", testid: "login-password" }),
    h("button.primary", { type: "submit", testid: "login-submit" }, "Sign in"),
    h("p.muted", { testid: "register-offer" }, "No account yet? ", h("button.link", { type: "button", testid: "show-register", onclick: () => swap(true) }, "Create account")));
  // With registration closed the offer becomes a pointer to the admin (GET /api/auth/status).
  const closedHint = h("p.muted", { testid: "registration-closed", hidden: true }, t("auth.registrationClosed"));
  login.append(closedHint);
  const register = h("form.auth-form", { testid: "register-form", "aria-label": "Create account", hidden: true },
    h("p.muted", "The first account on a new server becomes its administrator. Later accounts are usually created by an admin."),
    input("username", "Username", { autocomplete: "username", testid: "register-username", autocapitalize: "none", spellcheck: false }),
    input("password", "Password", { type: "password", autocomplete: "new-password", testid: "register-password" }),
    input("again", "Repeat password", { type: "password", autocomplete: "new-password", testid: "register-password-again" }),
    h("button.primary", { type: "submit", testid: "register-submit" }, "Create account"),
    h("p.muted", { testid: "back-to-login" }, h("button.link", { type: "button", testid: "show-login", onclick: () => swap(false) }, "Back to sign in")));

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
      if (NO_USER.test(err.detail)) {
        register.elements.username.value = username.value;
        swap(true);
        say("No account exists yet. Create the first one: it becomes the administrator.", true);
      }
    } finally { busy(login, false); }
  });

  register.addEventListener("submit", async (e) => {
    e.preventDefault();
    say("");
    const { username, password, again } = register.elements;
    if (password.value !== again.value) return say("The passwords do not match.");
    busy(register, true);
    try {
      await api("/api/auth/register", { method: "POST", authCall: true, body: { username: username.value.trim(), password: password.value } });
      await signIn(username.value.trim(), password.value);
    } catch (err) {
      say(err.detail); // e.g. registration closed: the server's own words
    } finally { busy(register, false); }
  });

  root.replaceChildren(h("main.auth", { testid: "auth" },
    h("div.auth-box",
      h("img", { src: "favicon.svg", alt: "", width: 72, height: 72 }),
      h("h1", "Octopus Photos"),
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

// The vault: create, unlock (token kept only in api.js memory), browse, restore, lock.
// Vault images need the X-Vault-Token header, so they are fetched as blobs and shown through
// object URLs, all revoked when the page is left or the vault locks.
import { api, qs, setVault, vaultToken, onVaultChange, vaultBlobUrl } from "../api.js";
import { h, showError, toast } from "../ui.js";
import { PhotoGrid } from "../grid.js";
import { showPhoto, closeViewer, viewerOpen } from "../viewer.js";
import { header, pageOf } from "./library.js";
import { t } from "../i18n.js";

function limiter(n) {
  let active = 0;
  const waiting = [];
  const next = () => { if (active < n && waiting.length) { active++; waiting.shift()(); } };
  return (fn) => new Promise((res, rej) => {
    waiting.push(() => fn().then(res, rej).finally(() => { active--; next(); }));
    next();
  });
}

// Locked on the server too, so the token is dead even if a copy of it survives somewhere;
// forgotten here whatever the server answers.
async function lock() {
  try { await api("/api/vault/lock", { method: "POST" }); } catch (err) { showError(err); }
  setVault(null);
  toast(t("vault.locked"));
}

export function vault() {
  const body = h("div");
  const lockBtn = h("button", { type: "button", testid: "vault-lock", hidden: true, onclick: lock }, t("vault.lock"));
  const el = h("div", { testid: "vault" }, header(t("nav.vault"), lockBtn), body);
  let urls = [];
  let grid = null;
  const view = { el, mode: "vault", photos: () => (grid ? grid.photos() : []) };

  const cleanup = () => {
    if (viewerOpen()) closeViewer();
    if (grid) grid.destroy();
    grid = null;
    urls.forEach((u) => URL.revokeObjectURL(u));
    urls = [];
  };

  const passField = (name, label, autocomplete, testid) =>
    h("label", label, h("input", { type: "password", name, required: true, autocomplete, testid }));

  const locked = () => {
    cleanup();
    lockBtn.hidden = true;
    view.grid = null;
    const unlock = h("form.card", { testid: "vault-unlock-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const r = await api("/api/vault/unlock", { method: "POST", body: { passphrase: unlock.elements.passphrase.value }, authCall: true });
        setVault(r.vault_token, r.expires_at);
      } catch (err) { showError(err); }
    } }, h("h3", t("vault.unlock")), passField("passphrase", t("vault.passphrase"), "current-password", "vault-passphrase"),
      h("button.primary", { type: "submit", testid: "vault-unlock-submit" }, t("vault.unlock")));
    const create = h("form.card", { testid: "vault-create-form", onsubmit: async (e) => {
      e.preventDefault();
      const { passphrase, confirm } = create.elements;
      if (passphrase.value !== confirm.value) return showError({ detail: t("vault.passphrasesDiffer") });
      try {
        await api("/api/vault", { method: "POST", body: { passphrase: passphrase.value } });
        const r = await api("/api/vault/unlock", { method: "POST", body: { passphrase: passphrase.value }, authCall: true });
        toast(t("vault.created"));
        setVault(r.vault_token, r.expires_at);
      } catch (err) { showError(err); }
    } }, h("h3", t("vault.createTitle")),
      h("p.muted", t("vault.createIntro")),
      passField("passphrase", t("vault.passphrase"), "new-password", "vault-create-passphrase"),
      passField("confirm", t("vault.repeatPassphrase"), "new-password", "vault-create-confirm"),
      h("button", { type: "submit", testid: "vault-create-submit" }, t("vault.create")));
    // A first visit offers creation: unlocking a vault that does not exist cannot work. Until
    // GET /api/vault answers, nothing is shown (a blink, not a wrong form).
    body.replaceChildren();
    api("/api/vault").then((st) => {
      if (view.grid || !el.isConnected) return;
      if (st && st.exists === false) {
        body.replaceChildren(h("div.cards2", create));
        create.elements.passphrase.focus();
      } else {
        body.replaceChildren(h("div.cards2", unlock));
        unlock.elements.passphrase.focus();
      }
    }).catch((err) => {
      showError(err);
      body.replaceChildren(h("div.cards2", unlock, h("details", h("summary", t("vault.noVaultYet")), create)));
    });
  };

  const unlocked = () => {
    cleanup();
    lockBtn.hidden = false;
    const limit = limiter(3);
    grid = new PhotoGrid({
      empty: t("vault.empty"),
      thumb: (p) => limit(() => vaultBlobUrl(`/api/vault/photos/${encodeURIComponent(p.id)}/thumbnail?size=thumb`)).then((u) => { urls.push(u); return u; }),
      onOpen: (p) => showPhoto(p, { list: grid.photos(), vault: true, mode: undefined, onNavigate: undefined, onClose: closeViewer, onRestore: (x) => grid.remove([x.id]) }),
    });
    view.grid = grid;
    grid.follow((cursor) => api("/api/vault/photos" + qs({ cursor }), { vault: true }).then(pageOf));
    const change = h("form.card", { testid: "vault-passphrase-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("/api/vault/passphrase", { method: "POST", vault: true, authCall: true, body: { old: change.elements.old.value, new: change.elements.new.value } });
        change.reset();
        toast(t("vault.passphraseChanged"));
      } catch (err) { showError(err); }
    } }, passField("old", t("vault.currentPassphrase"), "current-password"), passField("new", t("vault.newPassphrase"), "new-password"),
      h("button", { type: "submit" }, t("vault.changePassphrase")));
    body.replaceChildren(grid.el, h("details.settings-more", h("summary", t("vault.changeVaultPassphrase")), change));
  };

  const off = onVaultChange((open) => (open ? unlocked() : locked()));
  view.destroy = () => { off(); cleanup(); };
  vaultToken() ? unlocked() : locked();
  return view;
}

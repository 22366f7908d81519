"""The UI's message catalogue (webroot/js/i18n.js, messages/en.js and es.js) is complete and used.

Fails when a key is missing in either language, a key is defined but never used or used but never
defined, a placeholder differs between the languages, a problem `code` the server can send has no
text, or a user-visible string is left hard-coded in the UI's JS or HTML. The last is a scanner,
not a parser: it reads every string literal of the UI's code and every text node of its HTML and
reports the ones that read like words for a person (see `looks_like_words`), minus a short
explicit allow-list of technical strings. docs/ui.md "Languages" says how to add a string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "webroot"
MESSAGES = WEB / "js" / "messages"
LANGS = ("en", "es")

# UI code that is not a screen: the catalogue itself, workers and the API docs page (Swagger's
# own English UI; its page has one heading of ours).
NOT_UI = {"js/i18n.js", "js/hash-worker.js", "sw.js"}

# Strings that look like words but are not for a person to read (keys of KeyboardEvent, HTTP
# names, the product's name, units). Keep it short: a new entry needs a reason.
ALLOWED = {
    "Octopus Photos", "Octopus",  # the product's name, the same in every language
    "Escape", "Enter", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp",
    "PageDown", "Tab", "Backspace", "Delete", "Shift", "Control", "Meta", "Alt",  # KeyboardEvent.key
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",  # HTTP methods
    "Accept", "Content-Type", "X-Vault-Token", "Authorization", "Range", "Upload-Length",
    "Upload-Offset", "Tus-Resumable", "Upload-Metadata", "Retry-After", "Cache-Control",
    "MPEG-4 Part 2", "H.264", "HEVC",  # codec names (js/video.js)
    "Files",  # a DataTransfer.types entry (js/upload.js)
    "Esc", "Ctrl", "PgUp", "PgDn", "⌘",  # key caps, printed the same on Spanish keyboards
    "English", "Español",  # each language's name in itself (js/i18n.js LANGUAGES)
    # Browser and system names: proper nouns that name a session ("Firefox on Linux", js/auth.js).
    "Firefox", "Edge", "Chromium", "Chrome", "Safari", "Opera", "Browser", "Android", "iPhone", "iPad", "Windows",
    "Linux", "macOS", "iOS", "ChromeOS",
}


def load_catalogue(lang: str) -> dict[str, object]:
    text = (MESSAGES / f"{lang}.js").read_text(encoding="utf-8")
    start = re.search(r"^export default\s*", text, re.M)
    assert start, f"{lang}.js: no 'export default'"
    body = text[start.end():].rstrip()
    assert body.endswith(";"), f"{lang}.js must end with a semicolon after the object"
    try:
        data = json.loads(body[:-1])
    except json.JSONDecodeError as exc:  # the catalogue must stay strict JSON (docs/ui.md)
        raise AssertionError(f"{lang}.js is not strict JSON inside export default: {exc}") from None
    return data


def ui_files() -> list[Path]:
    files = [p for p in WEB.glob("*.js")] + [p for p in WEB.glob("*.html")] + list((WEB / "js").rglob("*.js"))
    return sorted(p for p in files if p.relative_to(WEB).as_posix() not in NOT_UI and MESSAGES not in p.parents)


# -- a small JavaScript tokenizer: string literals with their line, comments skipped ------------

_REGEX_BEFORE = set("(,=:[!&|?{};+-*%<>~^") | {""}
_REGEX_WORDS = {"return", "typeof", "case", "of", "in", "void", "delete", "throw", "new"}


def js_strings(src: str) -> list[tuple[int, str, str]]:
    """(line, literal text, the code before it on its line) for every string and template part."""
    out: list[tuple[int, str, str]] = []
    i, n, line = 0, len(src), 1
    last = ""  # the last significant token (char or word): tells a regex from a division
    stack: list[tuple[int, int]] = []  # (brace depth, template start) of each open template ${ }
    depth = 0

    def line_before(pos: int) -> str:
        return src[src.rfind("\n", 0, pos) + 1:pos]

    def template(start: int, context: int | None = None) -> int:
        nonlocal line
        j, buf = start, []
        ctx = start if context is None else context
        while j < n:
            c = src[j]
            if c == "\\":
                buf.append(src[j:j + 2]); j += 2; continue
            if c == "`":
                out.append((line, "".join(buf), line_before(ctx)))
                return j + 1
            if c == "$" and src[j + 1:j + 2] == "{":
                out.append((line, "".join(buf), line_before(ctx)))
                stack.append((depth, ctx))
                return -(j + 2)  # continue in code; the template resumes at its closing }
            if c == "\n":
                line += 1
            buf.append(c); j += 1
        return n

    while i < n:
        c = src[i]
        if c == "\n":
            line += 1; i += 1; continue
        if c in " \t\r":
            i += 1; continue
        if src.startswith("//", i):
            i = src.find("\n", i); i = n if i < 0 else i; continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2); j = n if j < 0 else j + 2
            line += src.count("\n", i, j); i = j; continue
        if c in "\"'":
            j, buf = i + 1, []
            while j < n and src[j] != c:
                if src[j] == "\\":
                    buf.append(src[j:j + 2]); j += 2; continue
                buf.append(src[j]); j += 1
            out.append((line, "".join(buf), line_before(i)))
            i, last = j + 1, "str"; continue
        if c == "`":
            r = template(i + 1)
            if r < 0:
                i, last = -r, "("; depth += 1; continue
            i, last = r, "str"; continue
        if c == "/" and (last in _REGEX_BEFORE or last in _REGEX_WORDS):
            j, in_class = i + 1, False
            while j < n and src[j] != "\n":
                if src[j] == "\\":
                    j += 2; continue
                if src[j] == "[":
                    in_class = True
                elif src[j] == "]":
                    in_class = False
                elif src[j] == "/" and not in_class:
                    break
                j += 1
            i, last = j + 1, "re"; continue
        if c == "{":
            depth += 1
        if c == "}":
            if stack and stack[-1][0] == depth - 1:
                _, ctx = stack.pop(); depth -= 1
                r = template(i + 1, ctx)
                if r < 0:
                    i = -r; depth += 1; last = "("; continue
                i, last = r, "str"; continue
            depth -= 1
        m = re.match(r"[A-Za-z_$][\w$]*", src[i:i + 40])
        if m:
            last = m.group(0); i += len(last); continue
        last = c; i += 1
    return out


# -- what reads like words for a person -------------------------------------------------------

_KEY = re.compile(r"^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)+$")
# Code, not prose: selectors, tags with classes, paths, MIME types, ids, CSS, formats.
_TECHNICAL = re.compile(r"^[\w\-.:#/\[\]=*\"'@?&%+,()>~^$|!{}<;\\ ]*$")


_STOPWORDS = {"a", "an", "the", "of", "to", "in", "on", "is", "are", "no", "not", "for", "and", "or", "with",
              "from", "this", "that", "be", "was", "were", "it", "its", "your", "you", "yet", "here", "there",
              "all", "at", "by", "as", "one", "more", "left", "kept", "de", "la", "el", "en", "y", "un", "una"}
# Code that puts its string on screen: a toast, a text property, a dialog, a label attribute.
_TEXTY = re.compile(r"(\btoast\(|textContent\s*=|innerText\s*=|\bconfirm(Dialog)?\(|\bprompt(Dialog)?\(|\balert\(|"
                    r"\btitle\W{0,3}[:=]|placeholder\W{0,3}[:=]|aria-label\W{0,3}[:,]|\blabel\s*:|\bempty\s*:)[\s`]*$")


def looks_like_words(s: str, before: str) -> bool:
    s = s.strip()
    bare = s.strip(" ·,:;–—-|()")
    if not s or s in ALLOWED or bare in ALLOWED or _KEY.match(s):
        return False
    if re.search(r"\bconsole\.(log|warn|error|info|debug)\(|\bnew (Type|Range)?Error\($", before):
        return False  # for developers, in English by design
    if re.match(r"^[MmLlHhVvCcSsQqTtAaZz][0-9MmLlHhVvCcSsQqTtAaZz .,\-]*$", s):
        return False  # an SVG path
    if not re.search(r"[A-Za-zÀ-ÿ]{2,}", s):
        return False
    texty = bool(_TEXTY.search(before))
    words = re.findall(r"[A-Za-zÀ-ÿ']+", s)
    if " " not in s:
        # One token: a capitalised word ("Save", "Done.") is text; "photo", "div.row", "click" are code
        # unless the code around puts them on screen.
        return bool(re.match(r"^[A-Z][a-zà-ÿ]+[.!?…:]?$", s)) or (texty and bool(re.match(r"^[a-zà-ÿ]+[.!?…]?$", s)))
    # CSS and selectors.
    if re.search(r"[;{}]|^\s*[.#\[]|\b(px|rem|em|vh|vw|rgba?|var|calc)\b", s) and not re.search(r"[.!?]$", s):
        return False
    if re.match(r"^[a-z0-9\-._/:\[\]=>*,()\"']+(\s+[a-z0-9\-._/:\[\]=>*,()\"']+)*$", s):
        # Lowercase tokens: class lists ("row end"), selectors ("nav.side a", "button, input"), MIME
        # lists; but prose when they are plain words with a small word among them, or on screen.
        plain = all(re.fullmatch(r"[a-z']+[.,!?:…]?", w) for w in s.split())
        return texty or (plain and len(words) >= 2 and any(w in _STOPWORDS for w in words))
    return True


def hard_coded_js(path: Path) -> list[str]:
    found = []
    src = path.read_text(encoding="utf-8")
    lines = src.splitlines()
    for line, text, before in js_strings(src):
        if re.search(r"\bimport\b|\bfrom\s*$|\bexport\b.*\bfrom\b", before):
            continue
        # The escape hatch, with its reason on the line or the one above: "// i18n: not translated: <why>".
        if any("i18n: not translated" in lines[n] for n in (line - 2, line - 1) if 0 <= n < len(lines)):
            continue
        if looks_like_words(text, before):
            found.append(f"{path.relative_to(WEB)}:{line}: {text[:80]!r}")
    # ui.js plural(n, "photo") makes English plurals: a plural entry in the catalogue does it right.
    for n, text in enumerate(lines, 1):
        if re.search(r"(?<![\w.])plural\(", text) and "export const plural" not in text:
            found.append(f"{path.relative_to(WEB)}:{n}: plural() (use a catalogue plural entry)")
    return found


_TAG = re.compile(r"<(/?)([a-zA-Z0-9-]+)([^>]*)>")
_ATTR = re.compile(r'\b(title|placeholder|aria-label|alt)="([^"]*)"')


def hard_coded_html(path: Path) -> list[str]:
    """Text and labelling attributes of static markup must carry data-i18n(-attr) keys."""
    src = path.read_text(encoding="utf-8")
    found, stack = [], []
    pos = 0
    src = re.sub(r"<!--.*?-->|<!doctype[^>]*>", lambda m: " " * len(m.group(0)), src, flags=re.S | re.I)
    for m in _TAG.finditer(src):
        text = src[pos:m.start()]
        pos = m.end()
        parent = stack[-1] if stack else ("", "")
        inside = {name for name, _ in stack}
        if text.strip() and not ({"script", "style", "noscript", "title"} & inside):
            if "data-i18n=" not in parent[1] and text.strip() not in ALLOWED and re.search(r"[A-Za-z]{2,}", text):
                found.append(f"{path.relative_to(WEB)}: text {text.strip()[:60]!r} has no data-i18n")
        closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
        for attr, value in _ATTR.findall(attrs):
            if value.strip() and value not in ALLOWED and f"data-i18n-{attr}=" not in attrs:
                found.append(f"{path.relative_to(WEB)}: {attr}={value!r} has no data-i18n-{attr}")
        if name in ("meta", "link", "img", "input", "br", "hr", "source") or attrs.rstrip().endswith("/"):
            continue
        if closing:
            while stack and stack.pop()[0] != name:
                pass
        elif not name.startswith("!"):
            stack.append((name, attrs))
    return found


# -- the tests --------------------------------------------------------------------------------


def placeholders(value: object) -> set[str]:
    forms = value.values() if isinstance(value, dict) else [value]
    return {name for form in forms for name in re.findall(r"\{(\w+)\}", str(form))}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, es = load_catalogue("en"), load_catalogue("es")
    assert sorted(set(en) - set(es)) == [], "keys missing in es.js"
    assert sorted(set(es) - set(en)) == [], "keys missing in en.js"
    wrong = [k for k in en if placeholders(en[k]) != placeholders(es[k])]
    assert wrong == [], "placeholders differ between en.js and es.js"
    for lang, cat in (("en", en), ("es", es)):
        for key, value in cat.items():
            assert _KEY.match(key), f"{lang}.js: key {key!r} is not area.name"
            if isinstance(value, dict):
                assert "other" in value and "one" in value, f"{lang}.js {key}: a plural needs one and other"
                assert set(value) <= {"zero", "one", "two", "few", "many", "other"} | {f"={i}" for i in range(10)}, key
            else:
                assert isinstance(value, str) and value.strip(), f"{lang}.js {key}: empty"


def test_spanish_is_spanish() -> None:
    """A Spanish text equal to its English one is a copy, unless it is a name or a symbol."""
    en, es = load_catalogue("en"), load_catalogue("es")
    same = {k for k in en if en[k] == es[k] and re.search(r"[a-z]{3,}", json.dumps(en[k]))}
    # Words that are the same in both languages.
    same -= {k for k in same if str(en[k]).strip(" .:…") in ALLOWED | {"Email", "Zoom", "ZIP", "GPS", "Total",
                                                                       "Error", "Online", "Offline", "Local",
                                                                       "Normal", "Original", "Favoritos"}}
    assert sorted(same) == [], "Spanish texts identical to the English ones (translate them)"


def used_keys_and_calls() -> tuple[set[str], set[str]]:
    """Every string literal that is a catalogue key (tables of keys count), and every t("...")."""
    used, called = set(), set()
    for path in ui_files() + [WEB / "js" / "i18n.js"]:
        src = path.read_text(encoding="utf-8")
        if path.name == "i18n.js":  # its own doc comment shows t("area.key")
            used.update(text for _, text, _ in js_strings(src) if _KEY.match(text))
            continue
        if path.suffix == ".html":
            used.update(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', src))
            called.update(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', src))
            continue
        used.update(text for _, text, _ in js_strings(src) if _KEY.match(text))
        called.update(re.findall(r"\bt\(\s*[\"']([^\"']+)[\"']", src))
    return used, called


def server_codes() -> set[str]:
    """Every problem code the server can send: the per-status ones, class codes, raise sites."""
    codes = set()
    for path in (ROOT / "src").rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        codes.update(re.findall(r"\bcode\s*=\s*\"([a-z][a-z0-9_]*)\"", src))
    from octopus_events.web.problems import CODES

    codes.update(CODES.values())
    codes.discard("error")  # the base class's placeholder: sent as the status's generic code
    return codes


def test_every_key_is_used_and_every_used_key_exists() -> None:
    en = load_catalogue("en")
    used, called = used_keys_and_calls()
    unknown = sorted(k for k in called if k not in en)
    assert unknown == [], "t() keys that neither catalogue has"
    errors = {k for k in en if k.startswith("error.")}  # looked up by the problem's code (js/i18n.js)
    unused = sorted(set(en) - used - errors)
    assert unused == [], "keys no code uses (remove them or use them)"


def test_every_problem_code_has_a_text_and_is_documented() -> None:
    en = load_catalogue("en")
    codes = server_codes()
    missing = sorted(c for c in codes if f"error.{c}" not in en)
    assert missing == [], "problem codes the UI has no text for (add error.<code> to both catalogues)"
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    undocumented = sorted(c for c in codes if f"`{c}`" not in doc)
    assert undocumented == [], "problem codes missing from docs/errors.md"
    # The UI's own codes (js/api.js) and the documented ones all have texts; no stale error keys.
    stale = sorted(k for k in en if k.startswith("error.") and k[6:] not in codes
                   and f"`{k[6:]}`" not in doc and k[6:] not in {"generic", "requestFailed", "uploadFailed"})
    assert stale == [], "error.<code> keys for codes nobody sends"


def test_no_user_visible_string_is_hard_coded() -> None:
    found = []
    for path in ui_files():
        found += hard_coded_html(path) if path.suffix == ".html" else hard_coded_js(path)
    assert found == [], "hard-coded UI strings (use t() and add the key to messages/en.js and es.js):\n" + "\n".join(found)


def test_the_scanner_finds_what_it_should() -> None:
    """The scanner itself: a planted string of each kind is found, code-like strings are not."""
    sample = '''
      const a = h("button.primary", { type: "submit", "aria-label": "Close the viewer" }, "Save");
      toast(`Moved ${n} photos to the trash`);
      el.textContent = "done";
      console.warn("could not reach the mirror:", err);
      const sel = document.querySelector("[data-testid=tile] .badge");
      const ok = /^(INPUT|TEXTAREA)$/.test(x) ? t("viewer.save") : "row end";
      if (e.key === "Escape") close(); // a comment with Words In It
      set("duplicate", "already in library"); el.className = "tile selected big";
    '''
    texts = [(s, b) for _, s, b in js_strings(sample) if looks_like_words(s, b)]
    assert [s for s, _ in texts] == ["Close the viewer", "Save", "Moved ", " photos to the trash", "done",
                                     "already in library"]
    page = WEB / "index.html"
    assert hard_coded_html(page) == [], "index.html itself"

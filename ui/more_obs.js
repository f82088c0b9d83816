// The OBS list in the settings: the first OBS's name (its host, port and
// password are the form's fields above it) and "More OBS", a row for each
// other OBS OnAir watches (name, host or OBS's obsws:// URL, port, a
// write-only password, Test connection, Remove) and "Add OBS". The settings
// page saves it with the rest (`save_connections`); this module owns the
// rows, checks them before anything is sent, and shows what the backend
// refuses next to the field it names ("more.1.port", "first_name").

import { $, make, setAttr, showText } from "./dom.js";
import { errorText, hostProblem, parsePort, testOutcome } from "./format.js";

const DEFAULT_PORT = "4455";

/** The backend's field ("more.1.port", "first_name") as the id of its input. */
export function fieldId(field) {
  return typeof field === "string" ? field.replace(/[._]/g, "-") : "";
}

/** The OBS list as the backend last sent it: {first_name, more: [...]}. */
function listOf(view) {
  const more = Array.isArray(view?.more) ? view.more : [];
  return {
    first_name: typeof view?.first_name === "string" ? view.first_name : null,
    more: more
      .filter((c) => c && typeof c === "object")
      .map((c) => ({
        name: typeof c.name === "string" ? c.name : "",
        host: typeof c.host === "string" ? c.host : "",
        port: c.port != null ? String(c.port) : "",
        stored: c.password_stored === true,
      })),
  };
}

export function createMoreObs({ invoke }) {
  let saved = listOf(null); // the list as the backend has it
  let rows = []; // [{name, host, port, password, stored}]: stored is null for a row not saved yet
  let dirty = false;

  // ---- drawing -----------------------------------------------------------

  function field(i, key, label, type = "text") {
    const id = `more-${i}-${key}`;
    const wrap = make("div", `field field-${key}`);
    const l = make("label", "", label);
    l.htmlFor = id;
    const input = make("input");
    input.type = type;
    input.id = id;
    input.dataset.key = key;
    input.autocomplete = "off";
    input.spellcheck = false;
    input.setAttribute("autocapitalize", "off");
    if (key === "port") input.inputMode = "numeric";
    input.setAttribute("aria-describedby", `error-${id}`);
    wrap.append(l, input);
    return wrap;
  }

  function errorLine(id) {
    const p = make("p", "field-error");
    p.id = `error-${id}`;
    p.hidden = true;
    return p;
  }

  function rowElement(i) {
    const li = make("li", "obs-row");
    li.dataset.row = String(i);
    const box = make("fieldset", "obs-entry");
    const legend = make("legend", "", `OBS ${i + 2}`);
    legend.id = `more-${i}-legend`;
    const name = field(i, "name", "Name");
    name.append(errorLine(`more-${i}-name`));
    const where = make("div", "field-row");
    where.append(field(i, "host", "Host"), field(i, "port", "Port"));
    const password = field(i, "password", "Password", "password");
    const passwordInput = password.querySelector("input");
    passwordInput.classList.add("write-only");
    const stored = make("p", "password-status");
    stored.id = `more-${i}-password-status`;
    passwordInput.setAttribute("aria-describedby", `${stored.id} error-more-${i}-password`);
    password.append(stored, errorLine(`more-${i}-password`));
    const test = make("button", "", "Test connection");
    test.type = "button";
    test.id = `more-${i}-test`;
    test.addEventListener("click", () => testRow(i));
    const remove = make("button", "", "Remove");
    remove.type = "button";
    remove.id = `more-${i}-remove`;
    remove.setAttribute("aria-describedby", legend.id);
    remove.addEventListener("click", () => removeRow(i));
    const buttons = make("div", "button-row");
    buttons.append(test, remove);
    const result = make("p", "feedback");
    result.id = `more-${i}-test-result`;
    result.setAttribute("role", "status");
    result.hidden = true;
    box.append(legend, name, where, errorLine(`more-${i}-host`), errorLine(`more-${i}-port`), password, buttons, result, errorLine(`more-${i}`));
    li.append(box);
    return li;
  }

  function render() {
    const list = $("more-obs-list");
    list.replaceChildren(...rows.map((_, i) => rowElement(i)));
    rows.forEach((row, i) => {
      for (const key of ["name", "host", "port", "password"]) $(`more-${i}-${key}`).value = row[key] ?? "";
      renderRow(i);
    });
    renderFirstName();
  }

  /** What shows beside a row's fields and changes as they are typed. */
  function renderRow(i) {
    const row = rows[i];
    const host = $(`more-${i}-host`).value.trim();
    const port = $(`more-${i}-port`).value.trim();
    $(`more-${i}-name`).placeholder = host && port ? `${host}:${port}` : "A name, e.g. Game PC";
    const status = $(`more-${i}-password-status`);
    status.hidden = row.stored === null;
    status.textContent = row.stored ? "A password is stored for this OBS" : "No password stored";
    status.dataset.stored = row.stored ? "true" : "false";
  }

  function renderFirstName() {
    const input = $("first-name");
    if (input) input.placeholder = typeof saved.first_target === "string" ? saved.first_target : "";
  }

  /** The rows as typed, passwords included, so a redraw keeps them. */
  function readRows() {
    rows = rows.map((row, i) => {
      const value = (key) => $(`more-${i}-${key}`)?.value ?? row[key] ?? "";
      return { ...row, name: value("name"), host: value("host"), port: value("port"), password: value("password") };
    });
  }

  function fill() {
    rows = saved.more.map((c) => ({ ...c, password: "" }));
    const first = $("first-name");
    if (first) first.value = saved.first_name ?? "";
    dirty = false;
    render();
    clearErrors();
  }

  // ---- errors ------------------------------------------------------------

  function fieldError(id, message) {
    const err = $(`error-${id}`);
    if (!err) return false;
    showText(err, message);
    const input = $(id);
    if (input) setAttr(input, "aria-invalid", !!message);
    return true;
  }

  function clearErrors() {
    fieldError("first-name", null);
    rows.forEach((_, i) => {
      for (const key of ["name", "host", "port", "password"]) fieldError(`more-${i}-${key}`, null);
      fieldError(`more-${i}`, null);
    });
  }

  // ---- actions -----------------------------------------------------------

  function addRow() {
    readRows();
    rows.push({ name: "", host: "", port: DEFAULT_PORT, password: "", stored: null });
    dirty = true;
    render();
    $(`more-${rows.length - 1}-name`)?.focus();
  }

  function removeRow(i) {
    readRows();
    rows.splice(i, 1);
    dirty = true;
    render();
    // Focus goes to the row that took its place, else the one before, else "Add OBS".
    const next = Math.min(i, rows.length - 1);
    ($(`more-${next}-name`) ?? $("btn-add-obs")).focus();
  }

  /** Checks a row's host and port; shows what is wrong; {host, port} or null. */
  function checkRow(i) {
    const host = $(`more-${i}-host`).value.trim();
    const hp = hostProblem(host);
    fieldError(`more-${i}-host`, hp);
    const p = parsePort($(`more-${i}-port`).value);
    fieldError(`more-${i}-port`, p.error ?? null);
    return hp || p.error ? null : { host, port: p.port };
  }

  async function testRow(i) {
    const result = $(`more-${i}-test-result`);
    const target = checkRow(i);
    const show = (text, tone) => {
      showText(result, text);
      result.dataset.tone = tone;
    };
    if (!target) {
      show("Fix the host or port first.", "bad");
      (hostProblem($(`more-${i}-host`).value) ? $(`more-${i}-host`) : $(`more-${i}-port`)).focus();
      return;
    }
    const typed = $(`more-${i}-password`).value;
    const button = $(`more-${i}-test`);
    button.disabled = true;
    show(`Testing ${target.host}:${target.port}…`, "busy");
    try {
      const r = await invoke("test_connection", { host: target.host, port: target.port, password: typed ? typed : null });
      const { text, tone } = testOutcome(r, target.host, target.port);
      show(text, tone);
    } catch (err) {
      // Its fields are the row's, whatever the command calls them.
      const key = typeof err?.field === "string" ? err.field : "";
      if (["host", "port", "password"].includes(key) && fieldError(`more-${i}-${key}`, errorText(err))) {
        $(`more-${i}-${key}`)?.focus();
        show("Test not run: see the marked field.", "bad");
      } else show(`Test failed: ${errorText(err)}`, "bad");
    } finally {
      if (button.isConnected) button.disabled = false;
    }
  }

  $("btn-add-obs").addEventListener("click", addRow);
  $("more-obs-list").addEventListener("input", (e) => {
    const m = /^more-(\d+)-(\w+)$/.exec(e.target.id ?? "");
    if (!m) return;
    if (m[2] !== "password") dirty = true;
    fieldError(e.target.id, null);
    fieldError(`more-${m[1]}`, null);
    if (m[2] === "host" || m[2] === "port") renderRow(Number(m[1]));
  });
  $("first-name")?.addEventListener("input", () => {
    dirty = true;
    fieldError("first-name", null);
  });

  return {
    /** The SettingsView's `connections` (and where the first OBS is); fills the rows when `force` or unedited. */
    apply(view, firstTarget, force) {
      saved = { ...listOf(view), first_target: firstTarget };
      if (force || !dirty) fill();
      else renderFirstName();
    },
    /**
     * The list to send (`save_connections`' `connections`), or null when a
     * row's host or port is wrong: each shown, the first focused.
     */
    check() {
      clearErrors();
      let focus = null;
      const more = [];
      rows.forEach((_, i) => {
        const target = checkRow(i);
        if (!target) {
          focus ??= hostProblem($(`more-${i}-host`).value) ? `more-${i}-host` : `more-${i}-port`;
          return;
        }
        const name = $(`more-${i}-name`).value.trim();
        const password = $(`more-${i}-password`).value;
        more.push({ name: name || null, host: target.host, port: target.port, password: password || null });
      });
      if (focus) {
        $(focus)?.focus();
        return null;
      }
      const first = $("first-name")?.value.trim() ?? "";
      return { first_name: first || null, more };
    },
    /** Whether `list` (from check) differs from what the backend has, a typed password included. */
    changed(list) {
      if (!list) return false;
      if ((list.first_name ?? null) !== (saved.first_name ?? null)) return true;
      if (list.more.length !== saved.more.length) return true;
      return list.more.some((c, i) => {
        const s = saved.more[i];
        return c.password !== null || (c.name ?? "") !== s.name || c.host !== s.host || String(c.port) !== s.port;
      });
    },
    /** Shows a backend rejection at its field; false when it names none of the list's. */
    showFieldError(field, message) {
      if (typeof field !== "string" || !(field === "first_name" || field.startsWith("more."))) return false;
      const id = fieldId(field);
      if ($(id) && fieldError(id, message)) {
        $(id).focus();
        return true;
      }
      // A whole row ("more.1"), or a part of it this form has no field for.
      const row = /^more\.(\d+)/.exec(field);
      if (row && fieldError(`more-${row[1]}`, message)) {
        $(`more-${row[1]}-name`)?.focus();
        return true;
      }
      return false;
    },
    isDirty: () => dirty,
  };
}

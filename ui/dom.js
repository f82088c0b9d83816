// The few DOM helpers every part of the window uses, written once. Each page
// module looks its elements up by id when it needs them (the page is static
// HTML plus lists these modules fill), so there is no element cache to go stale.

/** The element with this id, or null. */
export const $ = (id) => document.getElementById(id);

/** Puts `text` in `el` and hides it while there is nothing to say. */
export function showText(el, text) {
  const t = text ?? "";
  el.textContent = t;
  el.hidden = t === "";
}

/**
 * Sets a boolean-ish attribute such as aria-busy or aria-current to `value`
 * while `on`, and removes it otherwise: assistive tech reads an absent
 * attribute differently from "false".
 */
export function setAttr(el, name, on, value = "true") {
  if (on) el.setAttribute(name, value);
  else el.removeAttribute(name);
}

/** A new element with a class and, if given, its text. */
export function make(tag, className = "", text = null) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== null) el.textContent = text;
  return el;
}

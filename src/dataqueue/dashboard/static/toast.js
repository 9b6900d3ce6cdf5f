import { h } from "./dom.js";

const LIFETIME_MS = { success: 4000, info: 4000, error: 9000 };

/** Show a short message in the corner; errors stay longer. */
export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  const item = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null },
    h("span", { class: "toast-text", text: message }),
    h("button", {
      type: "button",
      class: "toast-close",
      "aria-label": "Dismiss",
      text: "×",
      on: { click: () => item.remove() },
    }),
  );
  region.append(item);
  setTimeout(() => item.remove(), LIFETIME_MS[kind] ?? LIFETIME_MS.info);
  return item;
}

export function toastError(error) {
  return toast(error && error.message ? error.message : String(error), "error");
}

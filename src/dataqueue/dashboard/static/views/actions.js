// Cancel and Retry, offered where the queue allows them.

import { api, readOnly } from "../api.js";
import { h } from "../dom.js";
import { toastError } from "../toast.js";

const CANCELLABLE = new Set(["pending", "waiting"]);
const RETRYABLE = new Set(["failed", "cancelled"]);

/**
 * The buttons for `job`: Cancel (pending, waiting) and Retry (failed,
 * cancelled). `done(message)` runs after a successful action.
 */
export function jobActions(job, { small = false, done }) {
  const size = small ? " small" : "";
  const act = (button, call, message) => async () => {
    button.disabled = true;
    try {
      await call(job.id);
      done(message);
    } catch (error) {
      button.disabled = false;
      toastError(error);
    }
  };
  const buttons = [];
  if (readOnly) return h("span", { class: "actions" });
  if (CANCELLABLE.has(job.status)) {
    const button = h("button", {
      type: "button",
      class: `button danger${size}`,
      dataset: { action: "cancel" },
      text: "Cancel",
      "aria-label": `Cancel job ${job.id}`,
    });
    button.addEventListener("click", act(button, api.cancel, `Job #${job.id} cancelled`));
    buttons.push(button);
  }
  if (RETRYABLE.has(job.status)) {
    const button = h("button", {
      type: "button",
      class: `button${size}`,
      dataset: { action: "retry" },
      text: "Retry",
      "aria-label": `Retry job ${job.id}`,
    });
    button.addEventListener("click", act(button, api.retry, `Job #${job.id} queued again`));
    buttons.push(button);
  }
  return h("span", { class: "actions" }, buttons);
}

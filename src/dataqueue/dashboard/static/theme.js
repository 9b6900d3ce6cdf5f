// Loaded before the page renders (a blocking script in <head>), so a theme
// chosen with the header toggle shows from the first paint.
try {
  const chosen = localStorage.getItem("dataqueue-theme");
  if (chosen === "light" || chosen === "dark") document.documentElement.dataset.theme = chosen;
} catch {
  // Storage may be off (private modes); the system preference applies.
}

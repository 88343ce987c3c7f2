// The one-line notice in the top bar: API errors and confirmations.

let timer = null;

/** Show a message; errors stay until the next success, others fade after 5 s. */
export function notify(message, kind = "info") {
  const node = document.getElementById("notice");
  clearTimeout(timer);
  node.textContent = message;
  node.className = `notice ${kind}`;
  node.hidden = false;
  if (kind !== "error") timer = setTimeout(clear, 5000);
}

/** Hide the notice. */
export function clear() {
  const node = document.getElementById("notice");
  if (node) node.hidden = true;
}

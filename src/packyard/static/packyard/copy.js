// A "Copy" button next to a secret shown once: <button data-copy="element-id">.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => {
      const source = document.getElementById(button.dataset.copy);
      navigator.clipboard.writeText(source.value || source.textContent).then(() => {
        button.textContent = "Copied";
      });
    });
  });
});

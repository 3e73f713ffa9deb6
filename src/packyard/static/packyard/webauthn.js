// Security keys and passkeys: fetch options from the server, ask the browser, send the answer.
// Every button names its endpoints in data-options-url and data-verify-url.
"use strict";

(function () {
  function toBytes(value) {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function showError(message) {
    const box = document.getElementById("webauthn-error");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  async function post(url, body, isJson) {
    const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
    if (isJson) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method: "POST", headers, body, credentials: "same-origin" });
    const data = await response.json().catch(() => ({ error: "The server's answer was not understood." }));
    if (response.status === 401 && data.reauthenticate) {
      // Confirm it is you first: the confirmation page brings you back here.
      window.location.assign(data.reauthenticate);
      return new Promise(() => {});
    }
    if (!response.ok || data.error) throw new Error(data.error || "Refused.");
    return data;
  }

  function credentialJson(credential) {
    const response = credential.response;
    const json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      if (response.userHandle) json.response.userHandle = toText(response.userHandle);
    }
    return json;
  }

  async function register(form) {
    const options = await post(form.dataset.optionsUrl, new FormData(form), false);
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const credential = await navigator.credentials.create({ publicKey: options });
    return post(form.dataset.verifyUrl, JSON.stringify(credentialJson(credential)), true);
  }

  let conditionalRequest = null;

  async function authenticate(element, mediation) {
    if (conditionalRequest && !mediation) conditionalRequest.abort();
    const options = await post(element.dataset.optionsUrl, new FormData(), false);
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const request = { publicKey: options };
    if (mediation) {
      conditionalRequest = new AbortController();
      request.mediation = mediation;
      request.signal = conditionalRequest.signal;
    }
    const credential = await navigator.credentials.get(request);
    return post(element.dataset.verifyUrl, JSON.stringify(credentialJson(credential)), true);
  }

  function follow(result) {
    window.location.assign(result.redirect || "/");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.PublicKeyCredential) {
      document.querySelectorAll("[data-webauthn]").forEach((e) => { e.hidden = true; });
      return;
    }
    document.querySelectorAll("form[data-webauthn=register]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        register(form).then(follow, (error) => showError(error.message));
      });
    });
    document.querySelectorAll("button[data-webauthn=authenticate]").forEach((button) => {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        authenticate(button).then(follow, (error) => showError(error.message));
      });
    });
    const conditional = document.querySelector("[data-webauthn-conditional]");
    if (conditional && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
        if (available) authenticate(conditional, "conditional").then(follow, () => {});
      });
    }
  });
})();

/*
 * Willow on another site with one script tag: a launcher button in a bottom corner that opens the
 * chat in a panel.
 *
 *   <script src="https://your-host/willow-embed.js" data-server="https://willow.example"></script>
 *
 * Data attributes (all optional except data-server when Willow runs elsewhere):
 *   data-server         Willow's Rasa server (default: the origin this file came from)
 *   data-title          the title in the panel's header (default "Willow")
 *   data-primary-color  buttons, links and the launcher (needs 4.5:1 contrast with white)
 *   data-open           "true": the panel is open when the page loads
 *   data-launcher       "false": no launcher; the chat fills the element with id willow-chat
 *   data-position       "left": the launcher sits in the bottom left corner (default right)
 *
 * The CSS, the socket.io client and willow-chat.js are loaded from this file's own folder, never
 * from a CDN. Nothing connects to Willow until the panel is first opened, so a visitor who never
 * opens it starts no conversation.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.WillowEmbed) return;  // one widget a page
  var data = script.dataset;
  var base = new URL(".", script.src).href;  // the folder this file was served from
  var config = {
    server: data.server || new URL(script.src).origin,
    title: data.title || "Willow",
    color: data.primaryColor,
    open: data.open === "true",
    launcher: data.launcher !== "false",
    left: data.position === "left"
  };
  var OPEN_KEY = "willow.open";  // sessionStorage: a reload in the same tab keeps the panel as it was

  function load(tag, attrs) {
    return new Promise(function (resolve, reject) {
      var node = document.createElement(tag);
      Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
      node.onload = resolve;
      node.onerror = function () { reject(new Error("Willow could not load " + (attrs.src || attrs.href))); };
      (tag === "link" ? document.head : document.body).appendChild(node);
    });
  }

  document.head.appendChild(Object.assign(document.createElement("link"),
    { rel: "stylesheet", href: base + "willow-chat.css" }));
  var scripts = null;
  function loadScripts() {
    if (!scripts) {
      // A site may have its own socket.io client on window.io; Willow's is only loaded when none is there.
      scripts = (window.io ? Promise.resolve() : load("script", { src: base + "vendor/socket.io.min.js" }))
        .then(function () { return load("script", { src: base + "willow-chat.js", "data-embed": "true" }); });
    }
    return scripts;
  }

  function remembered() {
    try { return JSON.parse(window.sessionStorage.getItem(OPEN_KEY)); } catch (e) { return null; }
  }
  function remember(open) {
    try { window.sessionStorage.setItem(OPEN_KEY, JSON.stringify(open)); } catch (e) { /* private mode */ }
  }

  function element(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key]; else node.setAttribute(key, attrs[key]);
    });
    return node;
  }

  // A speech bubble drawn inline (no icon font, no image request); decoration only.
  function bubbleIcon() {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "willow-launcher-icon");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  var wrapper = element("div", { class: "willow-embed" + (config.left ? " willow-embed-left" : "") +
    (config.launcher ? "" : " willow-embed-inline") });
  if (config.color) wrapper.style.setProperty("--willow-accent", config.color);

  if (!config.launcher) {  // inline: the chat fills the site's own #willow-chat
    var target = document.getElementById("willow-chat");
    if (!target) { target = element("div", { id: "willow-chat" }); script.parentNode.insertBefore(target, script); }
    target.parentNode.insertBefore(wrapper, target);
    wrapper.appendChild(target);
    loadScripts().then(function () {
      window.WillowChat.mount({ root: target, server: config.server, title: config.title, heading: "h2" });
    });
    window.WillowEmbed = {};
    return;
  }

  // A non-modal dialog: the site stays usable beside it; Escape or the close button hide it again.
  var panel = element("div", { id: "willow-panel", class: "willow-panel", role: "dialog",
    "aria-labelledby": "willow-title", hidden: "" });
  var chat = element("div", { id: "willow-chat" });
  panel.appendChild(chat);
  var launcher = element("button", { type: "button", class: "willow-launcher", "aria-expanded": "false",
    "aria-controls": "willow-panel" });
  launcher.appendChild(bubbleIcon());
  launcher.appendChild(element("span", { text: "Chat with " + config.title }));
  wrapper.appendChild(panel);
  wrapper.appendChild(launcher);
  document.body.appendChild(wrapper);

  var widget = null;
  function open(focus) {
    return loadScripts().then(function () {
      if (!widget) {
        widget = window.WillowChat.mount({ root: chat, server: config.server, title: config.title, heading: "h2",
          onClose: function () { close(); } });
      }
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      wrapper.classList.add("willow-embed-open");
      remember(true);
      if (focus) widget.input.focus();
    });
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    wrapper.classList.remove("willow-embed-open");
    remember(false);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) open(true); else close();
  });
  panel.addEventListener("keydown", function (event) {
    // The "New conversation" question is a <dialog> of its own: its Escape only closes the question.
    if (event.key === "Escape" && !panel.querySelector("dialog[open]")) { event.preventDefault(); close(); }
  });

  var start = remembered();
  // Opened on load without taking the focus: the visitor came for the site's page.
  if (start === true || (start === null && config.open)) open(false);
  window.WillowEmbed = { open: function () { return open(true); }, close: close };
})();

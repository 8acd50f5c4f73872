/*
 * Willow's chat widget: a small, dependency-free client for Rasa's socket.io channel.
 * Needs the socket.io client (window.io) loaded first. Mounts into #willow-chat, or
 * creates that element at the end of <body>. willow-embed.js loads this file with
 * data-embed="true" and calls WillowChat.mount itself, inside its launcher's panel.
 *
 * Configuration: data-server on this <script> tag (or ?server=URL on the page) is the
 * Rasa server's URL; data-title the widget's title. Everything the bot says comes from
 * the server; the strings below are only the widget's own labels.
 *
 * Privacy: the session id and the transcript live in sessionStorage, so a reload keeps
 * the conversation but closing the tab forgets it on this device.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var STORE = { session: "willow.session", transcript: "willow.transcript" };
  var LABELS = {
    title: "Willow",
    disclaimer: "An automated assistant, not a therapist.",
    danger: " In danger? Call your local emergency number.",
    crisis: "Crisis lines",
    crisisLabel: "Crisis lines worldwide (opens findahelpline.com in a new tab)",
    placeholder: "Type a message",
    send: "Send",
    restart: "New conversation",
    confirmQuestion: "Start a new conversation?",
    confirmDetail: "The messages on this screen will be cleared.",
    confirmYes: "Start over",
    confirmNo: "Cancel",
    typing: "Willow is typing",
    offline: "Connecting to Willow…",
    log: "Conversation with Willow",
    copy: "Copy note",
    copied: "Copied",
    copyFailed: "Couldn't copy: select the text and copy it yourself",
    download: "Download as text",
    noteTools: "Copy or download your note",
    quick: "Suggested replies",
    close: "Close chat",
    unreachable: "Can't reach Willow right now. Still trying…",
    refused: "Willow can't be used from this page: this site is not on Willow's list of allowed sites. " +
      "In danger? Call your local emergency number or use the crisis lines above."
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var NUMBER = "(\\d[\\d -]*\\d|\\d)";
  var LINKS = new RegExp(
    [
      "(https?://[^\\s)<]+)",                                   // 1 url
      "\\b((?:[a-z0-9-]+\\.)+(?:com|org|org\\.uk|org\\.au|org\\.nz|ca|gov\\.in))\\b", // 2 bare domain
      "\\btext ([A-Z]+) to " + NUMBER,                          // 3 word, 4 number: sms with body
      "\\bcall or text " + NUMBER,                              // 5 number
      "\\bcall " + NUMBER,                                      // 6 number
      "\\btext " + NUMBER,                                      // 7 number
      // Every emergency number of content/crisis_lines.yml (tests/test_crisis_lines.py checks).
      "\\b(911|999|112|000|111|988|995|10111)\\b",              // 8 emergency number on its own
      "\\bWhatsApp (\\+\\d[\\d ]*\\d)"                          // 9 WhatsApp number with its country code
    ].join("|"),
    "g"
  );

  function digits(number) { return number.replace(/[ -]/g, ""); }

  // Plain text in, safe HTML out: links for web addresses, tel: and sms: for crisis lines.
  function linkify(text) {
    return escapeHtml(text).replace(LINKS, function (match, url, domain, word, smsNumber, both, call, sms, emergency, whatsapp) {
      if (url) return '<a href="' + url + '" target="_blank" rel="noopener">' + url + "</a>";
      if (domain) return '<a href="https://' + domain + '" target="_blank" rel="noopener">' + domain + "</a>";
      if (word) return 'text <a href="sms:' + digits(smsNumber) + "?&body=" + word + '">' + word + " to " + smsNumber + "</a>";
      if (both) return '<a href="tel:' + digits(both) + '">call</a> or <a href="sms:' + digits(both) + '">text</a> ' + both;
      if (call) return 'call <a href="tel:' + digits(call) + '">' + call + "</a>";
      if (sms) return 'text <a href="sms:' + digits(sms) + '">' + sms + "</a>";
      if (whatsapp) {
        return 'WhatsApp <a href="https://wa.me/' + whatsapp.replace(/[^\d]/g, "") + '" target="_blank" rel="noopener">' + whatsapp + "</a>";
      }
      return '<a href="tel:' + emergency + '">' + emergency + "</a>";
    });
  }

  function load(key, fallback) {
    try { return JSON.parse(window.sessionStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function save(key, value) {
    try { window.sessionStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function crossIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "willow-close-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M3 3l10 10M13 3L3 13");
    svg.appendChild(path);
    return svg;
  }

  // Builds the widget in options.root and connects to options.server. options.heading: the title's
  // element (h1 on Willow's own page, h2 inside another site's page); options.onClose: adds a close button.
  function mount(options) {
    // ---- layout ---------------------------------------------------------------------
    var root = options.root;
    var SERVER = options.server;
    root.classList.add("willow");
    // In the launcher's panel: a way out that is not the launcher (a phone's panel covers it).
    // Its name is its (visually hidden) text, so what a voice user says and a screen reader reads
    // is the same; the cross is decoration.
    var closeButton = options.onClose ? el("button", { type: "button", class: "willow-close" }, [
      crossIcon(), el("span", { class: "willow-visually-hidden", text: LABELS.close })
    ]) : null;
    if (closeButton) closeButton.addEventListener("click", options.onClose);
    // One compact header: on a phone it must leave the conversation most of the screen. The crisis
    // link is a plain link, so it works even when Willow's server is unreachable.
    var restart = el("button", { type: "button", class: "willow-restart", "aria-haspopup": "dialog", text: LABELS.restart });
    var header = el("header", { class: "willow-header" }, [
      el(options.heading || "h1", { id: "willow-title", class: "willow-title", text: options.title || LABELS.title }),
      el("p", { class: "willow-disclaimer" }, [
        document.createTextNode(LABELS.disclaimer),
        el("span", { class: "willow-danger", text: LABELS.danger })
      ]),
      el("div", { class: "willow-actions" }, [
        el("a", { class: "willow-crisis", href: "https://findahelpline.com", target: "_blank", rel: "noopener",
          "aria-label": LABELS.crisisLabel, text: LABELS.crisis })
      ].concat(closeButton ? [closeButton] : [], [restart]))
    ]);
    // "New conversation" asks first: a mistap must not wipe what someone has written. A <dialog> with
    // method="dialog" gives focus handling, Escape to cancel and the button's value as returnValue.
    var confirmBox = el("dialog", { class: "willow-confirm", role: "alertdialog",
      "aria-labelledby": "willow-confirm-question", "aria-describedby": "willow-confirm-detail" }, [
      el("form", { method: "dialog" }, [
        el("p", { id: "willow-confirm-question", class: "willow-confirm-question", text: LABELS.confirmQuestion }),
        el("p", { id: "willow-confirm-detail", class: "willow-confirm-detail", text: LABELS.confirmDetail }),
        el("div", { class: "willow-confirm-actions" }, [
          // Focus starts on Cancel, the choice that loses nothing.
          el("button", { type: "submit", value: "cancel", class: "willow-confirm-no", autofocus: "", text: LABELS.confirmNo }),
          el("button", { type: "submit", value: "start", class: "willow-confirm-yes", text: LABELS.confirmYes })
        ])
      ])
    ]);
    var log = el("div", { class: "willow-log", role: "log", "aria-live": "polite", "aria-label": LABELS.log, tabindex: "0" });
    var status = el("p", { class: "willow-status", role: "status", text: LABELS.offline });
    // A generic <div> may not carry aria-label: the words are visually hidden text, the dots hidden from
    // screen readers.
    var typing = el("div", { class: "willow-typing", hidden: "" }, [
      el("span", { class: "willow-visually-hidden", text: LABELS.typing }),
      el("span", { class: "willow-dot", "aria-hidden": "true" }), el("span", { class: "willow-dot", "aria-hidden": "true" }),
      el("span", { class: "willow-dot", "aria-hidden": "true" })
    ]);
    var input = el("input", { type: "text", class: "willow-input", placeholder: LABELS.placeholder,
      "aria-label": LABELS.placeholder, maxlength: "2000", autocomplete: "off" });
    var send = el("button", { type: "submit", class: "willow-send", text: LABELS.send });
    var form = el("form", { class: "willow-form" }, [input, send]);
    root.appendChild(header);
    root.appendChild(log);
    root.appendChild(typing);
    root.appendChild(status);
    root.appendChild(form);
    root.appendChild(confirmBox);

    var transcript = load(STORE.transcript, []);
    var sessionId = load(STORE.session, null);

    // Every reply is read from its start, not its end: the log follows new messages, but when the
    // bot's turn is taller than the log the view stops at the turn's first message (on a phone most
    // replies, the crisis reply first of all).
    var turnStart = null;
    function scrollDown() {
      log.scrollTop = log.scrollHeight;
      if (!turnStart) return;
      var offset = turnStart.getBoundingClientRect().top - log.getBoundingClientRect().top;
      if (offset < 0) log.scrollTop += offset - 8;
    }

    // ---- the note for the next session: copy and download ---------------------------
    // Sent by Willow as {text, willow_note: {text, filename}}; it stays on this device only.
    function copyText(text) {
      if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
      return new Promise(function (resolve, reject) {  // fallback for plain-http pages and older browsers
        var area = el("textarea", { readonly: "", "aria-hidden": "true", class: "willow-copy-area" });
        area.value = text;
        document.body.appendChild(area);
        area.select();
        var done = false;
        try { done = document.execCommand("copy"); } catch (e) { done = false; }
        area.remove();
        if (done) resolve(); else reject(new Error("copy failed"));
      });
    }

    function downloadText(text, filename) {
      var url = URL.createObjectURL(new Blob([text.replace(/\n/g, "\r\n") + "\r\n"], { type: "text/plain;charset=utf-8" }));
      var link = el("a", { href: url, download: filename || "willow-note.txt", hidden: "" });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    }

    function noteTools(note) {
      var feedback = el("span", { class: "willow-note-status", role: "status" });
      var copy = el("button", { type: "button", class: "willow-note-copy", text: LABELS.copy });
      var download = el("button", { type: "button", class: "willow-note-download", text: LABELS.download });
      copy.addEventListener("click", function () {
        copyText(note.text).then(function () { feedback.textContent = LABELS.copied; },
          function () { feedback.textContent = LABELS.copyFailed; });
      });
      download.addEventListener("click", function () { downloadText(note.text, note.filename); });
      return el("div", { class: "willow-note-tools", role: "group", "aria-label": LABELS.noteTools }, [copy, download, feedback]);
    }

    function render(entry) {
      var bubble = el("div", { class: "willow-msg willow-" + entry.from + (entry.note ? " willow-note" : "") });
      bubble.innerHTML = linkify(entry.text || "");
      log.appendChild(bubble);
      if (entry.from === "user") turnStart = null;
      else if (!turnStart) turnStart = bubble;
      if (entry.note) log.appendChild(noteTools(entry.note));
      if (entry.buttons && entry.buttons.length && !entry.answered) {
        var group = el("div", { class: "willow-quick", role: "group", "aria-label": LABELS.quick });
        entry.buttons.forEach(function (button) {
          var b = el("button", { type: "button", class: "willow-quick-reply", text: button.title });
          b.addEventListener("click", function (event) {
            entry.answered = true;
            save(STORE.transcript, transcript);
            // Enter or Space (a click with detail 0) goes on typing; a tap must not pop up a phone's keyboard.
            removeQuick(group, event.detail === 0 ? input : log);
            userSays(button.title, button.payload);
          });
          group.appendChild(b);
        });
        log.appendChild(group);
      }
      scrollDown();
    }

    // Removing the focused button would drop the focus to <body>, the top of the page: it moves on instead.
    function removeQuick(group, next) {
      var hadFocus = group.contains(document.activeElement);
      group.remove();
      if (hadFocus) next.focus({ preventScroll: true });
    }

    function remember(entry) {
      transcript.forEach(function (e) { if (e.buttons) e.answered = true; });  // older quick replies are spent
      log.querySelectorAll(".willow-quick").forEach(function (g) { removeQuick(g, input); });
      transcript.push(entry);
      save(STORE.transcript, transcript);
      render(entry);
    }

    // ---- talking to Rasa ------------------------------------------------------------
    var socket = window.io(SERVER, { transports: ["polling", "websocket"] });
    var typingTimer = null;

    function showTyping(on) {
      typing.hidden = !on;
      clearTimeout(typingTimer);
      if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, 15000);
    }

    // Messages not answered yet, by id. Each is sent with an id of its own; a reply names the id
    // it answers (reply_to). After a reconnect, or when the server says a store is down (503),
    // the unanswered ones are sent again with the same ids: the server answers a message it has
    // handled already with its first answer instead of handling it twice.
    var pending = [];
    var retryTimer = null;
    var sent = 0, order = {}, newestAnswered = 0;  // to drop a late second copy of an old answer

    function newMessageId() {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    }

    function emit(message) {
      var entry = { id: newMessageId(), message: message };
      order[entry.id] = ++sent;
      pending.push(entry);
      // While disconnected it waits in `pending` and goes out after the reconnect (socket.io's own
      // buffer would send it a second time).
      if (socket.connected) socket.emit("user_uttered", { message: message, message_id: entry.id, session_id: sessionId });
      showTyping(true);
    }

    function resendPending() {
      pending.forEach(function (entry) {
        socket.emit("user_uttered", { message: entry.message, message_id: entry.id, session_id: sessionId });
      });
      if (pending.length) showTyping(true);
    }

    // Whether to show a reply: false for a second copy of the answer to an older message (it was
    // sent again, and the server answered it again from its store).
    function answered(id) {
      if (!id) { pending = []; return true; }  // a reply without reply_to (an older server): all answered
      if (order[id] < newestAnswered) return false;
      newestAnswered = Math.max(newestAnswered, order[id] || 0);
      // Messages are answered in the order sent: a reply to one means those before it are done.
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].id === id) { pending = pending.slice(i + 1); break; }
      }
      return true;
    }

    function userSays(text, payload) {
      if (!text.trim()) return;
      remember({ from: "user", text: text });
      emit(payload || text);
    }

    function clearConversation() {
      transcript = [];
      save(STORE.transcript, transcript);
      log.innerHTML = "";
      turnStart = null;
    }

    // The server decides the session: it keeps the id this tab had (a reload continues the
    // conversation) or, for a new conversation or an id it does not accept, confirms a new one.
    function startSession(fresh) {
      if (fresh) {
        pending = [];  // the old conversation's unanswered messages stay with it
        sessionId = null;
        save(STORE.session, null);
        clearConversation();
      }
      socket.emit("session_request", { session_id: sessionId });
    }

    function showStatus(text, refused) {
      status.hidden = !text;
      status.textContent = text;
      status.classList.toggle("willow-status-error", !!refused);
      input.disabled = send.disabled = !!refused;
    }

    // Why the connection fails, asked once while disconnected. A browser hides why a cross-origin request
    // failed; a second, "no-cors" request (an opaque answer) tells a server that is up but does not allow
    // this page's origin (CORS) from one that cannot be reached at all.
    var diagnosed = false;
    function diagnose() {
      if (diagnosed || typeof window.fetch !== "function") return;
      diagnosed = true;
      var url = SERVER.replace(/\/+$/, "") + "/";
      window.fetch(url, { mode: "cors", credentials: "omit", cache: "no-store" }).then(function () { /* up: a blip */ },
        function () {
          return window.fetch(url, { mode: "no-cors", credentials: "omit", cache: "no-store" }).then(function () {
            if (!socket.connected) refuse();
          }, function () {
            if (!socket.connected) showStatus(LABELS.unreachable);
          });
        });
    }
    function refuse() {
      showStatus(LABELS.refused, true);
      // For whoever runs the site; names no conversation, only the addresses involved.
      if (window.console) console.warn("Willow: " + SERVER + " does not allow pages of " + window.location.origin +
        " (add it to WEB_ALLOWED_ORIGINS and --cors).");
    }

    socket.on("connect", function () {
      diagnosed = false;
      showStatus("");
      startSession(false);
    });
    socket.on("disconnect", function () {
      showStatus(LABELS.offline);
    });
    socket.on("connect_error", function () {
      // Not active: the server itself refused the socket (its origin check); socket.io does not retry.
      if (!socket.active) { refuse(); return; }
      if (!diagnosed) showStatus(LABELS.offline);
      diagnose();
    });
    socket.on("session_confirm", function (confirmed) {
      if (typeof confirmed !== "string" || !confirmed) return;
      if (confirmed !== sessionId) {  // a new conversation: what this tab showed belongs to the old one
        if (transcript.length) clearConversation();
        pending = [];
        sessionId = confirmed;
        save(STORE.session, sessionId);
      }
      if (!transcript.length && !pending.length) emit("/greet");  // a new conversation starts with Willow's introduction
      else resendPending();  // after a reconnect: whatever got no answer before it
    });
    socket.on("willow_error", function (error) {
      // A store is down for a moment: send the unanswered messages again a little later.
      clearTimeout(retryTimer);
      var seconds = Math.min(Math.max(Number(error && error.retry_after) || 5, 1), 30);
      retryTimer = setTimeout(resendPending, seconds * 1000);
    });
    socket.on("bot_uttered", function (message) {
      if (!answered(message.reply_to)) return;
      showTyping(false);
      var buttons = message.quick_replies || message.buttons;
      if (message.willow_note && message.willow_note.text) {
        remember({ from: "bot", text: message.willow_note.text, note: message.willow_note });
      } else if (message.text) remember({ from: "bot", text: message.text, buttons: buttons });
      else if (message.attachment) remember({ from: "bot", text: String(message.attachment.payload && message.attachment.payload.src || "") });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value;
      input.value = "";
      userSays(text);
      input.focus();
    });
    restart.addEventListener("click", function () {
      if (typeof confirmBox.showModal !== "function") {  // browsers without <dialog>
        if (window.confirm(LABELS.confirmQuestion + " " + LABELS.confirmDetail)) { startSession(true); input.focus(); }
        return;
      }
      confirmBox.returnValue = "";  // Escape leaves it empty: the same as Cancel
      confirmBox.showModal();
    });
    confirmBox.addEventListener("close", function () {
      if (confirmBox.returnValue === "start") {
        startSession(true);
        input.focus();
      } else restart.focus();
    });

    transcript.forEach(render);
    return { input: input, log: log };
  }

  window.WillowChat = { linkify: linkify, mount: mount };
  if (script && script.dataset.embed === "true") return;  // willow-embed.js mounts it when the panel opens
  var params = new URLSearchParams(window.location.search);
  mount({
    root: document.getElementById("willow-chat") || document.body.appendChild(el("div", { id: "willow-chat" })),
    server: params.get("server") || (script && script.dataset.server) || window.location.origin,
    title: script && script.dataset.title
  });
})();

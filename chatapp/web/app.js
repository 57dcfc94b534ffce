// chatapp's demo client: the React client's calls, in plain JavaScript.
// HTTP: fetch with credentials (the `token` cookie), JSON bodies, errors from the JSON `message`.
// Realtime: socket.io-client with withCredentials, so even its first (polling) request carries
// the cookie; it listens to `getOnlineUsers` and `newMessage`.
// Edits, reactions, blocks, profile and search live in features.js, loaded first, which this
// file hands its core functions to (`window.chatappFeatures(core)`).
"use strict";

(function () {
  const API = window.chatappApiBase(location.search, location.origin); // api-base.js
  const STORED_USER = "chatapp.authUser"; // the login response, as the React client keeps it

  const state = {
    me: JSON.parse(localStorage.getItem(STORED_USER) || "null"),
    users: [],
    online: new Set(),
    unread: new Map(), // user id -> count of messages not yet seen
    peer: null, // the user whose conversation is open
    nextBefore: null, // cursor of the next older page of that conversation
    socket: null,
  };

  // A hook for tests and curious developers: which transport the socket ended up on, and
  // every online list received.
  window.chatapp = {
    api: API,
    onlineLists: [],
    transport: () => state.socket?.io?.engine?.transport?.name ?? null,
    connected: () => Boolean(state.socket?.connected),
  };

  const $ = (selector) => document.querySelector(selector);

  // --- HTTP ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function request(method, path, body) {
    const options = { method, credentials: "include", headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, options);
    } catch (error) {
      throw new ApiError(`Cannot reach the server at ${API} (${error.message})`, 0);
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      throw new ApiError(data?.message || `HTTP ${response.status}`, response.status);
    }
    return { data, headers: response.headers };
  }

  // --- messages to the person ----------------------------------------------------------------

  function say(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }
  const showError = (text) => say($("#error"), text);
  const showNotice = (text) => say($("#notice"), text);

  // Run an action from the page; whatever it throws is shown, never lost in the console.
  function guarded(action) {
    return async (event) => {
      event?.preventDefault();
      showError("");
      try {
        await action(event);
      } catch (error) {
        if (error.status === 401) leaveChat();
        showError(error.message);
      }
    };
  }

  // --- signing up, in and out ----------------------------------------------------------------

  const fields = (form) => Object.fromEntries(new FormData(form).entries());

  $("#signup-form").addEventListener("submit", guarded(async (event) => {
    const form = event.target;
    const body = fields(form);
    await request("POST", "/api/v1/user/register", body);
    form.reset();
    $("#login-form").elements.username.value = body.username;
    showNotice("Account created: log in.");
  }));

  $("#login-form").addEventListener("submit", guarded(async (event) => {
    const { data } = await request("POST", "/api/v1/user/login", fields(event.target));
    event.target.reset();
    state.me = data;
    localStorage.setItem(STORED_USER, JSON.stringify(data));
    try {
      await enterChat();
    } catch (error) {
      // SameSite=Strict: a cookie set by localhost is not sent from a page on 127.0.0.1.
      if (error.status === 401) {
        throw new ApiError(`Logged in, but the browser did not send the login cookie back (${error.message}): ` +
          "open this page and the API under the same host name, both localhost or both 127.0.0.1.", 401);
      }
      throw error;
    }
  }));

  $("#logout").addEventListener("click", guarded(async () => {
    await request("GET", "/api/v1/user/logout");
    leaveChat();
  }));

  async function enterChat() {
    showNotice("");
    say($("#whoami"), `${state.me.fullName} (@${state.me.username})`);
    $("#logout").hidden = false;
    features?.enter();
    $("#auth").hidden = true;
    $("#chat").hidden = false;
    await loadUsers(); // before the socket: a 401 here means the cookie is gone
    connectSocket();
  }

  function leaveChat() {
    state.socket?.disconnect();
    Object.assign(state, { me: null, users: [], peer: null, nextBefore: null, socket: null });
    state.online.clear();
    state.unread.clear();
    localStorage.removeItem(STORED_USER);
    say($("#whoami"), "");
    $("#logout").hidden = true;
    $("#chat").hidden = true;
    $("#auth").hidden = false;
    $("#peer-name").textContent = "Pick someone to chat with";
    $("#messages").replaceChildren();
    $("#older").hidden = true;
    $("#send-form").hidden = true;
    features?.leave();
  }

  // --- realtime ------------------------------------------------------------------------------

  function connectSocket() {
    // As the React client: its query userId must now match the logged-in user's cookie.
    const socket = io(API, { withCredentials: true, query: { userId: state.me._id } });
    state.socket = socket;
    socket.on("connect", () => showError(""));
    socket.on("connect_error", (error) => showError(`Realtime connection failed: ${error.message}`));
    socket.on("getOnlineUsers", (ids) => {
      window.chatapp.onlineLists.push(ids);
      state.online = new Set(ids);
      const known = new Set(state.users.map((user) => user._id));
      // Someone who signed up after the list was loaded: load it again.
      if (ids.some((id) => id !== state.me?._id && !known.has(id))) {
        loadUsers().catch((error) => showError(error.message));
      }
      renderUsers();
    });
    socket.on("newMessage", (message) => {
      if (state.peer && message.senderId === state.peer._id) {
        appendMessage(message);
      } else {
        state.unread.set(message.senderId, (state.unread.get(message.senderId) || 0) + 1);
        renderUsers();
      }
    });
    features?.listen(socket);
  }

  // --- people --------------------------------------------------------------------------------

  async function loadUsers() {
    const { data } = await request("GET", "/api/v1/user/");
    state.users = data;
    renderUsers();
  }

  function initials(name) {
    return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]).join("").toUpperCase();
  }

  function renderUsers() {
    const items = state.users.map((user) => {
      const item = document.createElement("li");
      item.dataset.userId = user._id;
      item.dataset.username = user.username;
      item.classList.toggle("selected", state.peer?._id === user._id);
      item.classList.toggle("online", state.online.has(user._id));
      // profilePhoto is a third-party avatar URL; initials keep this page offline-friendly.
      const avatar = document.createElement("span");
      avatar.className = "avatar";
      avatar.textContent = initials(user.fullName);
      const dot = document.createElement("span");
      dot.className = "dot";
      dot.title = state.online.has(user._id) ? "online" : "offline";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = user.fullName;
      item.append(avatar, dot, name);
      if (state.blocked?.has(user._id)) item.classList.add("blocked");
      const unread = state.unread.get(user._id);
      if (unread) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.textContent = String(unread);
        item.append(badge);
      }
      item.addEventListener("click", guarded(() => openConversation(user)));
      return item;
    });
    $("#users").replaceChildren(...items);
  }

  // --- a conversation ------------------------------------------------------------------------

  async function loadPage(before) {
    const query = before ? `?before=${encodeURIComponent(before)}` : "";
    const { data, headers } = await request("GET", `/api/v1/message/${state.peer._id}${query}`);
    state.nextBefore = headers.get("X-Next-Before");
    $("#older").hidden = !state.nextBefore;
    return data;
  }

  async function openConversation(user) {
    state.peer = user;
    state.unread.delete(user._id);
    renderUsers();
    $("#peer-name").textContent = user.fullName;
    $("#messages").replaceChildren();
    $("#older").hidden = true;
    $("#send-form").hidden = false;
    features?.opened(user);
    const page = await loadPage();
    if (state.peer === user) page.forEach((message) => appendMessage(message));
    $("#send-form").elements.message.focus();
  }

  $("#older").addEventListener("click", guarded(async () => {
    const page = await loadPage(state.nextBefore);
    const first = $("#messages").firstChild;
    page.forEach((message) => appendMessage(message, first));
  }));

  $("#send-form").addEventListener("submit", guarded(async (event) => {
    const input = event.target.elements.message;
    const { data } = await request("POST", `/api/v1/message/send/${state.peer._id}`, {
      message: input.value,
    });
    input.value = "";
    appendMessage(data.newMessage);
  }));

  function appendMessage(message, before = null) {
    const list = $("#messages");
    if (list.querySelector(`[data-message-id="${message._id}"]`)) return; // already shown
    const item = messageElement(message);
    list.insertBefore(item, before);
    if (!before) item.scrollIntoView({ block: "end" });
  }

  function messageElement(message) {
    const item = document.createElement("li");
    item.dataset.messageId = message._id;
    item.classList.add(message.senderId === state.me._id ? "mine" : "theirs");
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = message.message;
    const time = document.createElement("time");
    time.dateTime = message.createdAt;
    time.textContent = new Date(message.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    item.append(text, time);
    features?.decorate(item, message);
    return item;
  }

  // --- features.js ---------------------------------------------------------------------------

  const features = window.chatappFeatures?.({
    state, request, guarded, showError, showNotice, say, $, messageElement, renderUsers, loadUsers,
    openConversation,
  });

  // --- start ---------------------------------------------------------------------------------

  if (state.me) {
    // Logged in earlier (this tab or another): the cookie decides whether that still holds.
    enterChat().catch((error) => {
      leaveChat();
      if (error.status !== 401) showError(error.message);
    });
  }
})();

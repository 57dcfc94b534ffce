// The demo client's newer features (docs/api.md): edit and delete one's messages, reactions,
// blocking, profile and password, search. app.js calls `window.chatappFeatures(core)` with its
// core functions and calls back the hooks returned here.
"use strict";

window.chatappFeatures = function install(core) {
  const { state, request, guarded, showNotice, $ } = core;
  const QUICK_REACTIONS = ["👍", "❤️", "😂"];
  const shown = new Map(); // message id -> the message as last rendered (reactions kept on edits)
  const search = { q: null, nextBefore: null };
  state.blocked = new Set();

  // --- messages: edited / deleted marks, edit and delete buttons, reactions --------------------

  function decorate(item, message) {
    const previous = shown.get(message._id);
    if (!message.reactions && previous?.reactions && !message.deletedAt) {
      message = { ...message, reactions: previous.reactions };
    }
    shown.set(message._id, message);
    const text = item.querySelector(".text");
    if (message.deletedAt) {
      item.classList.add("deleted");
      text.textContent = "This message was deleted";
      return;
    }
    if (message.editedAt) {
      const mark = document.createElement("span");
      mark.className = "edited";
      mark.textContent = "(edited)";
      text.after(mark);
    }
    const actions = document.createElement("span");
    actions.className = "actions";
    for (const emoji of QUICK_REACTIONS) {
      actions.append(button(emoji, "react", () => toggleReaction(message._id, emoji)));
    }
    if (message.senderId === state.me?._id) {
      actions.append(button("Edit", "edit", () => startEdit(item, message)));
      actions.append(button("Delete", "delete", () => deleteMessage(message._id)));
    }
    item.append(actions);
    const chips = document.createElement("span");
    chips.className = "reactions";
    for (const reaction of message.reactions || []) {
      const chip = button(`${reaction.emoji} ${reaction.count}`, "reaction",
        () => toggleReaction(message._id, reaction.emoji));
      chip.dataset.emoji = reaction.emoji;
      chip.classList.toggle("mine", reaction.reacted);
      chips.append(chip);
    }
    item.append(chips);
  }

  function button(label, className, action) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = label;
    element.addEventListener("click", guarded(action));
    return element;
  }

  // Re-render a message in place, if it is on screen.
  function replace(message) {
    const old = $("#messages").querySelector(`[data-message-id="${message._id}"]`);
    if (old) old.replaceWith(core.messageElement(message));
  }

  function startEdit(item, message) {
    const form = document.createElement("form");
    form.className = "edit-form";
    const input = document.createElement("input");
    input.name = "message";
    input.value = message.message;
    input.required = true;
    form.append(input, button("Cancel", "cancel", () => replace(shown.get(message._id))));
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = "Save";
    form.append(save);
    form.addEventListener("submit", guarded(async () => {
      const { data } = await request("PATCH", `/api/v1/message/${message._id}`, { message: input.value });
      replace(data);
    }));
    item.querySelector(".actions")?.replaceWith(form);
    input.focus();
  }

  async function deleteMessage(messageId) {
    const { data } = await request("DELETE", `/api/v1/message/${messageId}`);
    replace(data);
  }

  async function toggleReaction(messageId, emoji) {
    const mine = shown.get(messageId)?.reactions?.find((r) => r.emoji === emoji)?.reacted;
    const { data } = await request(mine ? "DELETE" : "POST", `/api/v1/message/${messageId}/reactions`, { emoji });
    applyReactions(data);
  }

  function applyReactions({ messageId, reactions }) {
    const message = shown.get(messageId);
    if (message) replace({ ...message, reactions });
  }

  // --- live events -----------------------------------------------------------------------------

  function listen(socket) {
    socket.on("messageUpdated", (message) => replace(message));
    socket.on("messageDeleted", (message) => replace(message));
    socket.on("reactionsUpdated", (update) => applyReactions(update));
    socket.on("userUpdated", (user) => {
      state.users = state.users.map((known) => (known._id === user._id ? user : known));
      if (user._id === state.me?._id) showMe({ ...state.me, fullName: user.fullName, profilePhoto: user.profilePhoto });
      if (state.peer?._id === user._id) {
        state.peer = user;
        $("#peer-name").textContent = user.fullName;
      }
      core.renderUsers();
    });
  }

  function showMe(me) {
    state.me = me;
    localStorage.setItem("chatapp.authUser", JSON.stringify(me));
    core.say($("#whoami"), `${me.fullName} (@${me.username})`);
    fillProfileForm();
  }

  // --- blocking --------------------------------------------------------------------------------

  async function loadBlocks() {
    const { data } = await request("GET", "/api/v1/user/blocks");
    state.blocked = new Set(data.map((user) => user._id));
    core.renderUsers();
    renderBlockButton();
  }

  function renderBlockButton() {
    const blockButton = $("#block");
    blockButton.hidden = !state.peer;
    blockButton.textContent = state.peer && state.blocked.has(state.peer._id) ? "Unblock" : "Block";
  }

  $("#block").addEventListener("click", guarded(async () => {
    const peer = state.peer;
    if (state.blocked.has(peer._id)) {
      await request("DELETE", `/api/v1/user/blocks/${peer._id}`);
      state.blocked.delete(peer._id);
    } else {
      await request("POST", `/api/v1/user/blocks/${peer._id}`);
      state.blocked.add(peer._id);
    }
    core.renderUsers();
    renderBlockButton();
  }));

  // --- profile and password --------------------------------------------------------------------

  // Filled on entering and after each change, not when the section opens: its `toggle` event
  // comes later and would overwrite what the person started typing.
  function fillProfileForm() {
    const form = $("#profile-form");
    form.elements.fullName.value = state.me?.fullName || "";
    form.elements.profilePhoto.value = state.me?.profilePhoto || "";
  }

  $("#profile-form").addEventListener("submit", guarded(async (event) => {
    const form = event.target;
    const changes = { fullName: form.elements.fullName.value };
    if (form.elements.profilePhoto.value !== state.me.profilePhoto) {
      changes.profilePhoto = form.elements.profilePhoto.value;
    }
    const { data } = await request("PATCH", "/api/v1/user/me", changes);
    showMe(data);
    showNotice("Profile saved.");
  }));

  $("#password-form").addEventListener("submit", guarded(async (event) => {
    const form = event.target;
    await request("POST", "/api/v1/user/me/password", Object.fromEntries(new FormData(form).entries()));
    form.reset();
    showNotice("Password changed.");
  }));

  // --- search ----------------------------------------------------------------------------------

  async function runSearch(more) {
    const params = new URLSearchParams({ q: search.q });
    if (more && search.nextBefore) params.set("before", search.nextBefore);
    const { data, headers } = await request("GET", `/api/v1/messages/search?${params}`);
    search.nextBefore = headers.get("X-Next-Before");
    const list = $("#search-results");
    if (!more) list.replaceChildren();
    for (const message of data) list.append(searchResult(message));
    if (!list.children.length) {
      const none = document.createElement("li");
      none.className = "none";
      none.textContent = "No messages found";
      list.append(none);
    }
    list.hidden = false;
    $("#search-more").hidden = !search.nextBefore;
  }

  function searchResult(message) {
    const item = document.createElement("li");
    item.dataset.messageId = message._id;
    const otherId = message.senderId === state.me._id ? message.receiverId : message.senderId;
    const other = state.users.find((user) => user._id === otherId);
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = message.senderId === state.me._id ? `me → ${other?.fullName ?? "?"}` : other?.fullName ?? "?";
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = message.message;
    item.append(who, text);
    if (other) item.addEventListener("click", guarded(() => core.openConversation(other)));
    return item;
  }

  $("#search-form").addEventListener("submit", guarded(async (event) => {
    search.q = event.target.elements.q.value;
    search.nextBefore = null;
    await runSearch(false);
  }));
  $("#search-more").addEventListener("click", guarded(() => runSearch(true)));

  // --- hooks for app.js ------------------------------------------------------------------------

  return {
    decorate,
    listen,
    enter() {
      fillProfileForm();
      loadBlocks().catch((error) => core.showError(error.message));
    },
    leave() {
      shown.clear();
      state.blocked = new Set();
      $("#search-results").replaceChildren();
      $("#search-results").hidden = true;
      $("#search-more").hidden = true;
      $("#block").hidden = true;
    },
    opened() {
      shown.clear();
      renderBlockButton();
    },
  };
};

// The demo client's group conversations (docs/groups.md): the group list, a new-group form, a
// group's messages and members. app.js calls `window.chatappGroups(core)` with its core functions
// and calls back the hooks returned here. Group traffic arrives as `groupMessage`, never as
// `newMessage`, so a pair chat open on screen never shows a group's message.
"use strict";

window.chatappGroups = function install(core) {
  const { state, request, guarded, $, appendTextAndTime } = core;
  const groups = new Map(); // group id -> the group as last listed or fetched
  let open = null; // the group whose conversation is open: its full JSON (members included)
  let nextBefore = null;

  const userName = (id) => {
    if (id === state.me?._id) return state.me.fullName;
    return open?.members?.find((m) => m._id === id)?.fullName
      || state.users.find((u) => u._id === id)?.fullName || "Someone";
  };

  // --- the group list ----------------------------------------------------------------------------

  async function loadGroups() {
    const { data } = await request("GET", "/api/v1/conversations?limit=100");
    groups.clear();
    for (const entry of data) if (entry.type === "group") groups.set(entry._id, entry);
    render();
  }

  function render() {
    const items = [...groups.values()].map((group) => {
      const item = document.createElement("li");
      item.dataset.groupId = group._id;
      item.dataset.groupName = group.name;
      item.classList.toggle("selected", open?._id === group._id);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = group.name;
      item.append(name);
      if (group.unreadCount) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.textContent = String(group.unreadCount);
        item.append(badge);
      }
      item.addEventListener("click", guarded(() => openGroup(group._id)));
      return item;
    });
    $("#groups").replaceChildren(...items);
  }

  // The new-group form lists everyone else to pick from.
  function renderPicker() {
    const boxes = state.users.map((user) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "memberIds";
      box.value = user._id;
      box.dataset.username = user.username;
      label.append(box, ` ${user.fullName}`);
      return label;
    });
    $("#group-picker").replaceChildren(...boxes);
  }

  $("#new-group").addEventListener("toggle", () => { if ($("#new-group").open) renderPicker(); });

  $("#group-form").addEventListener("submit", guarded(async (event) => {
    const form = event.target;
    const memberIds = [...form.querySelectorAll("[name=memberIds]:checked")].map((b) => b.value);
    const { data } = await request("POST", "/api/v1/groups", { name: form.elements.name.value, memberIds });
    form.reset();
    $("#new-group").open = false;
    groups.set(data._id, data);
    await openGroup(data._id);
  }));

  // --- one group's conversation --------------------------------------------------------------------

  async function openGroup(id) {
    const { data } = await request("GET", `/api/v1/groups/${id}`);
    state.peer = null;
    open = data;
    groups.set(id, { ...data, unreadCount: 0 });
    core.renderUsers();
    render();
    showHeader();
    $("#messages").replaceChildren();
    $("#send-form").hidden = false;
    const blockButton = $("#block"); // features.js: blocking is between two people, not a group
    if (blockButton) blockButton.hidden = true;
    const page = await loadPage();
    if (open?._id === id) page.forEach((message) => append(message));
    await request("POST", `/api/v1/groups/${id}/read`);
    $("#send-form").elements.message.focus();
  }

  function showHeader() {
    $("#peer-name").textContent = `${open.name} (${open.members.length} members)`;
    const admin = open.members.find((m) => m._id === state.me._id)?.role === "admin";
    $("#group-panel").hidden = false;
    $("#group-admin").hidden = !admin;
    const members = open.members.map((member) => {
      const item = document.createElement("li");
      item.dataset.userId = member._id;
      item.textContent = `${member.fullName}${member.role === "admin" ? " (admin)" : ""}`;
      if (admin && member._id !== state.me._id) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "remove";
        remove.textContent = "Remove";
        remove.addEventListener("click", guarded(() =>
          request("DELETE", `/api/v1/groups/${open._id}/members/${member._id}`)));
        item.append(" ", remove);
      }
      return item;
    });
    $("#group-members").replaceChildren(...members);
    const outside = state.users.filter((u) => !open.members.some((m) => m._id === u._id));
    $("#group-add").elements.userId.replaceChildren(...outside.map((user) => {
      const option = document.createElement("option");
      option.value = user._id;
      option.textContent = user.fullName;
      return option;
    }));
  }

  async function loadPage(before) {
    const query = before ? `?before=${encodeURIComponent(before)}` : "";
    const { data, headers } = await request("GET", `/api/v1/groups/${open._id}/messages${query}`);
    nextBefore = headers.get("X-Next-Before");
    $("#older").hidden = !nextBefore;
    return data;
  }

  function append(message, before = null) {
    const list = $("#messages");
    if (list.querySelector(`[data-message-id="${message._id}"]`)) return;
    const item = document.createElement("li");
    item.dataset.messageId = message._id;
    if (message.system) {
      item.classList.add("system");
    } else {
      item.classList.add(message.senderId === state.me._id ? "mine" : "theirs");
      if (message.senderId !== state.me._id) {
        const from = document.createElement("span");
        from.className = "from";
        from.textContent = userName(message.senderId);
        item.append(from);
      }
    }
    appendTextAndTime(item, message);
    list.insertBefore(item, before);
    if (!before) item.scrollIntoView({ block: "end" });
  }

  $("#group-rename").addEventListener("submit", guarded(async (event) => {
    await request("PATCH", `/api/v1/groups/${open._id}`, { name: event.target.elements.name.value });
    event.target.reset();
  }));

  $("#group-add").addEventListener("submit", guarded(async (event) => {
    const userId = event.target.elements.userId.value;
    if (userId) await request("POST", `/api/v1/groups/${open._id}/members`, { userIds: [userId] });
  }));

  $("#group-leave").addEventListener("click", guarded(async () => {
    const id = open._id;
    await request("POST", `/api/v1/groups/${id}/leave`);
    forget(id);
  }));

  function close() {
    open = null;
    nextBefore = null;
    $("#group-panel").hidden = true;
    render();
  }

  function forget(id) {
    groups.delete(id);
    if (open?._id === id) {
      close();
      $("#peer-name").textContent = "Pick someone to chat with";
      $("#messages").replaceChildren();
      $("#send-form").hidden = true;
      $("#older").hidden = true;
    }
    render();
  }

  // --- live events ---------------------------------------------------------------------------------

  function listen(socket) {
    socket.on("groupMessage", (message) => {
      const group = groups.get(message.conversationId);
      if (open?._id === message.conversationId) {
        append(message);
        if (!message.system && message.senderId !== state.me._id) {
          request("POST", `/api/v1/groups/${open._id}/read`).catch(() => {});
        }
      } else if (group && !message.system && message.senderId !== state.me._id) {
        group.unreadCount = (group.unreadCount || 0) + 1;
      }
      if (group) group.lastMessage = message;
      render();
    });
    socket.on("conversationUpdated", ({ conversation }) => {
      if (!conversation.members.some((m) => m._id === state.me._id)) {
        forget(conversation._id); // removed, or left from another tab
        return;
      }
      const known = groups.get(conversation._id);
      groups.set(conversation._id, { ...conversation, unreadCount: known?.unreadCount || 0 });
      if (open?._id === conversation._id) {
        open = conversation;
        showHeader();
      }
      render();
    });
  }

  return {
    listen,
    enter: () => loadGroups(),
    leave: () => { groups.clear(); close(); },
    opened: () => close(), // a pair conversation replaced the group on screen
    isOpen: () => open !== null,
    async send(text) {
      const { data } = await request("POST", `/api/v1/groups/${open._id}/messages`, { message: text });
      append(data.newMessage);
    },
    async older() {
      const page = await loadPage(nextBefore);
      const first = $("#messages").firstChild;
      page.forEach((message) => append(message, first));
    },
  };
};

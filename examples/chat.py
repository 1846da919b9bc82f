"""A chat room on :mod:`trioquart.broadcast`. From the repository root, serve it with::

    trioquart run examples.chat:app

then open http://127.0.0.1:5000/ in two browser tabs. With one worker the room lives in
the process's memory. To share it between processes (two workers, or two servers), point
the broadcaster at Redis (``pip install "trioquart[redis]"``)::

    TRIOQUART_BROADCAST_URL=redis://127.0.0.1:6379/0 trioquart run examples.chat:app --workers 2

The app reads its settings from ``TRIOQUART_*`` environment variables
(``TRIOQUART_BROADCAST_URL`` becomes ``BROADCAST_URL``); without one it broadcasts in memory,
which does not reach other workers.

``GET /`` is the page; its websocket, ``/ws?name=...``, joins the room. The client sends
plain text; the server sends JSON: ``{"type": "ready"}`` once the connection is in the room,
``{"type": "message", "name": ..., "text": ...}`` for each message said there (the sender's
own too), ``{"type": "gap"}`` where messages may be missing (after the broadcaster lost its
connection to Redis for a while, say), and ``{"type": "error", "text": ...}`` when the client's
last message could not be sent.

Each connection runs two tasks in its nursery (``websocket.nursery``): a sender that
subscribes to the room and passes on what is said there, and a receiver that publishes what
the client says. The sender subscribes before it tells the client it is ready, so a message
said after the page shows "connected" always arrives. A client that does not read cannot
stall the room: its subscription falls behind alone, and once it is ``BROADCAST_BUFFER_SIZE``
messages behind the broadcaster ends it with ``SubscriberTooSlow``, which closes the
websocket with 1013 (try again later). The page then reconnects, and says messages may be
missing.

``GET /health`` reports the broadcaster's state, with a 503 while it is unhealthy (Redis
down for too long), for a load balancer's health check.
"""

from __future__ import annotations

import json
from typing import Any

import trio

from trioquart import TrioQuart, websocket
from trioquart.broadcast import Broadcast, BroadcastUnavailable, Gap

#: The channel every member subscribes to.
ROOM = "chat"
#: Longer names are cut to this many characters.
MAX_NAME_LENGTH = 40

app = TrioQuart(__name__)
app.config.from_prefixed_env("TRIOQUART")
broadcast = Broadcast(app)


async def send(**message: Any) -> None:
    await websocket.send(json.dumps(message))


async def sender(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Subscribe to the room, tell the client it is in, then pass on what is said there."""
    async with broadcast.subscribe(ROOM) as subscription:
        await send(type="ready")  # the first send also accepts the websocket
        task_status.started()
        async for event in subscription:
            if isinstance(event, Gap):
                await send(type="gap")
            else:
                await websocket.send(event.data)  # published as the JSON the client gets


async def receiver(name: str) -> None:
    """Publish each message the client sends, as JSON with its name."""
    async for message in websocket:
        text = message if isinstance(message, str) else message.decode(errors="replace")
        data = json.dumps({"type": "message", "name": name, "text": text})
        try:
            await broadcast.publish(ROOM, data)
        except BroadcastUnavailable:
            await send(type="error", text="The chat is unavailable: your message was not sent.")
        except ValueError:  # over BROADCAST_MAX_MESSAGE_SIZE
            await send(type="error", text="Your message is too long: it was not sent.")


@app.websocket("/ws")
async def chat() -> None:
    name = (websocket.args.get("name") or "").strip()[:MAX_NAME_LENGTH] or "anonymous"
    await websocket.nursery.start(sender)  # in the room, and the client told so
    websocket.nursery.start_soon(receiver, name)
    await trio.sleep_forever()  # until the client leaves, which cancels both tasks


@app.get("/health")
async def health() -> tuple[dict[str, object], int]:
    state = broadcast.health()
    return state.as_dict(), 200 if state.healthy else 503


@app.get("/")
async def index() -> str:
    return PAGE


PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trioquart chat</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto;
         padding: 0 1rem; color: #222; }
  header { display: flex; justify-content: space-between; align-items: baseline; }
  h1 { font-size: 1.4rem; }
  #status { font-size: .9rem; color: #666; }
  #status[data-state="connected"] { color: #207020; }
  #status[data-state="disconnected"] { color: #a03020; }
  form { display: flex; gap: .5rem; margin: 1rem 0; }
  form input { flex: 1; padding: .4rem; font: inherit; }
  button { font: inherit; padding: .4rem 1rem; }
  #messages { list-style: none; padding: 0; min-height: 10rem; max-height: 60vh;
              overflow-y: auto; border: 1px solid #ddd; border-radius: 4px; }
  #messages li { padding: .3rem .6rem; border-bottom: 1px solid #eee;
                 white-space: pre-wrap; overflow-wrap: anywhere; }
  #messages .name { font-weight: 600; margin-right: .5rem; }
  #messages .notice { color: #666; font-style: italic; }
  #messages .error { color: #a03020; }
</style>
<header>
  <h1>trioquart chat</h1>
  <span id="status" data-state="idle" role="status">not joined</span>
</header>
<form id="join-form">
  <input id="name" placeholder="Your name" maxlength="40" autocomplete="nickname"
         required autofocus aria-label="Your name">
  <button id="join">Join</button>
</form>
<ul id="messages" aria-live="polite"></ul>
<form id="message-form">
  <input id="message" placeholder="Say something" autocomplete="off" disabled
         aria-label="Message">
  <button id="send" disabled>Send</button>
</form>
<script>
"use strict";
const element = (id) => document.getElementById(id);
const statusLine = element("status");
const messages = element("messages");
const nameInput = element("name");
const messageInput = element("message");
const MAX_DELAY_MS = 5000;
let name = "";
let socket = null;
let ready = false;
let failures = 0;        // connection attempts in a row that ended before "ready"
let wasReady = false;    // whether the page was in the room before (for the notice)

function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
  messageInput.disabled = element("send").disabled = state !== "connected";
}

// Everything the server or a user sent is shown with textContent, never as HTML.
function show(className, ...parts) {
  const item = document.createElement("li");
  item.className = className;
  for (const [partClass, text] of parts) {
    const part = document.createElement("span");
    part.className = partClass;
    part.textContent = text;
    item.append(part);
  }
  messages.append(item);
  item.scrollIntoView({block: "nearest"});
}
const notice = (text, kind = "notice") => show(kind, ["notice", text]);

function connect() {
  setStatus("connecting", "connecting");
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("name", name);
  const current = new WebSocket(url);
  socket = current;
  current.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "ready") {
      ready = true;
      failures = 0;
      if (wasReady) {
        notice("Reconnected — messages sent while you were disconnected are not shown.");
      }
      wasReady = true;
      setStatus("connected", "connected as " + name);
      messageInput.focus();
    } else if (data.type === "message") {
      show("message", ["name", data.name], ["text", data.text]);
    } else if (data.type === "gap") {
      notice("Some messages may be missing.");
    } else if (data.type === "error") {
      notice(data.text, "notice error");
    }
  };
  current.onclose = (event) => {
    if (socket !== current) return;
    socket = null;
    if (event.code === 1013) notice("You fell behind the room and were disconnected.");
    if (!ready) failures += 1;
    ready = false;
    // Capped exponential back-off with jitter, so restarted servers are not stampeded.
    const delay = Math.min(MAX_DELAY_MS, 250 * 2 ** failures) * (0.5 + Math.random() / 2);
    setStatus("disconnected", "disconnected — reconnecting");
    setTimeout(connect, delay);
  };
}

element("join-form").onsubmit = (event) => {
  event.preventDefault();
  name = nameInput.value.trim();
  if (!name || socket) return;
  nameInput.disabled = element("join").disabled = true;
  connect();
};

element("message-form").onsubmit = (event) => {
  event.preventDefault();
  const text = messageInput.value;
  if (!text || !ready) return;
  socket.send(text);
  messageInput.value = "";
};
</script>
"""

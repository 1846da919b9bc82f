"""A chat room. From the repository root, serve it with::

    trioquart run examples.chat:app

then open http://127.0.0.1:5000/ in two browser tabs.

``GET /`` is the page; its websocket, ``/ws?name=...``, joins the room. Each connection
runs two tasks in its nursery (``websocket.nursery``): a receiver that posts what the client
says to the room, and a sender that passes on what the room says. The room fans every
message out over trio memory channels, one bounded channel per member.

A slow client cannot stall the room: posting never waits. A member whose channel is full
(``MEMBER_QUEUE_SIZE`` messages behind) misses that message, while everyone else gets it at
once. (Disconnecting the laggard instead would not free the room any sooner: a send to a
client that does not read waits in the server until it does.)
"""

from __future__ import annotations

import trio

from trioquart import TrioQuart, websocket

MEMBER_QUEUE_SIZE = 32

app = TrioQuart(__name__)


class Room:
    """The members' channels. ``post`` hands a message to each member without waiting."""

    def __init__(self) -> None:
        self.members: set[trio.MemorySendChannel[str]] = set()

    def join(self) -> tuple[trio.MemorySendChannel[str], trio.MemoryReceiveChannel[str]]:
        member, inbox = trio.open_memory_channel[str](MEMBER_QUEUE_SIZE)
        self.members.add(member)
        return member, inbox

    def leave(self, member: trio.MemorySendChannel[str]) -> None:
        self.members.discard(member)
        member.close()

    def post(self, message: str) -> None:
        for member in self.members:
            try:
                member.send_nowait(message)
            except trio.WouldBlock:
                pass  # this member is too far behind: it misses this message


room = Room()


async def receiver(name: str) -> None:
    async for message in websocket:
        text = message if isinstance(message, str) else message.decode(errors="replace")
        room.post(f"{name}: {text}")


async def sender(inbox: trio.MemoryReceiveChannel[str]) -> None:
    async for message in inbox:
        await websocket.send(message)


@app.websocket("/ws")
async def chat() -> None:
    name = websocket.args.get("name") or "anonymous"
    member, inbox = room.join()  # before accepting: once connected, a client is in the room
    try:
        await websocket.accept()
        websocket.nursery.start_soon(receiver, name)
        websocket.nursery.start_soon(sender, inbox)
        await trio.sleep_forever()  # until the client leaves, which cancels all three
    finally:
        room.leave(member)


@app.get("/")
async def index() -> str:
    return PAGE


PAGE = """<!doctype html>
<meta charset="utf-8">
<title>trioquart chat</title>
<ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<script>
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("name", prompt("Your name?") || "anonymous");
  const socket = new WebSocket(url);
  const log = (text) => {
    const item = document.createElement("li");
    item.textContent = text;
    document.getElementById("log").append(item);
  };
  socket.onmessage = (event) => log(event.data);
  socket.onclose = () => log("(disconnected)");
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    socket.send(input.value);
    input.value = "";
  };
</script>
"""
